"""Cross-file check at ``patron check``: tier names that rules use must be in the tier list.

A rule comparing a tier feature with a name (``tier == "vipp"``, ``tier_changed_to in
["gold"]``) or multiplying points for a tier (``tier_multiplier: {vipp: 2}``) is an error
naming the rule's file and line when the ``tiers:`` list (or the default one) does not
define that tier. ``rfm_segment`` and ``tier_change`` values are checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import Problem
from core.expr import Expr
from core.expr.ast import Compare, In, Literal, Name, walk
from core.rules import RuleDef, RuleSet, display_name
from core.rules.yaml_source import YamlPath, load_yaml
from core.suggest import did_you_mean
from plugins.tiering.features import CHANGES
from plugins.tiering.rfm import SEGMENTS
from plugins.tiering.tiers import TiersSection

TIER_VALUED = ("tier", "previous_tier", "tier_changed_to", "tier_changed_from", "tier_downgrade_to")
FIXED_VALUES: dict[str, tuple[str, Sequence[str]]] = {
    "rfm_segment": ("an RFM segment", SEGMENTS),
    "tier_change": ("a tier change", CHANGES),
}


def named_values(expr: Expr) -> Iterator[tuple[str, str]]:
    """``(feature, text)`` for every string a condition compares a feature with."""
    for node in walk(expr):
        if isinstance(node, Compare) and node.op in ("==", "!="):
            sides = (node.left, node.right)
            for name, other in (sides, sides[::-1]):
                if (
                    isinstance(name, Name)
                    and isinstance(other, Literal)
                    and isinstance(other.value, str)
                ):
                    yield name.name, other.value
        elif isinstance(node, In) and isinstance(node.operand, Name):
            for item in node.items:
                if isinstance(item.value, str):
                    yield node.operand.name, item.value


@cache
def _source(path: Path, mtime: float) -> tuple[dict[str, int], Any]:
    doc = load_yaml(path.read_text(encoding="utf-8"))
    entries = doc.data.get("rules") if isinstance(doc.data, dict) else None
    index = {
        entry["id"]: i
        for i, entry in enumerate(entries or [])
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    }
    return index, doc.source


class _Locator:
    """Lines of keys inside rules, from their files (falls back to the rule's line)."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.paths = {display_name(p): p for p in files}

    def line(self, rule: RuleDef, path: YamlPath) -> int:
        file = self.paths.get(rule.file)
        try:
            if file is not None:
                index, source = _source(file, file.stat().st_mtime)
                if rule.id in index:
                    return int(source.line(("rules", index[rule.id], *path)))
        except (OSError, UnicodeDecodeError):
            pass
        return rule.line


def _unknown(text: str, what: str, known: Sequence[str], listing: str) -> str:
    return f"'{text}' is not {what}{did_you_mean(text, known)}; {listing}"


def check_rule_tiers(value: TiersSection | None, rules: RuleSet) -> list[Problem]:
    """Problems for tier names (and segments, changes) the tier list does not define."""
    section = value if value is not None else TiersSection()
    tiers = section.names
    defined = rules.sections.get("tiers")
    origin = f"tiers: at {defined.file}:{defined.line}" if defined else "the default tiers"
    tier_listing = f"the tiers are {', '.join(tiers)} ({origin})"
    locate = _Locator(rules.files)
    problems: list[Problem] = []
    for rule in rules.rules:
        for feature, text in named_values(rule.condition):
            if feature in TIER_VALUED and text not in tiers:
                message = _unknown(text, "a tier", tiers, tier_listing)
            elif feature in FIXED_VALUES and text not in FIXED_VALUES[feature][1]:
                what, known = FIXED_VALUES[feature]
                message = _unknown(text, what, known, f"use one of: {', '.join(known)}")
            else:
                continue
            line = locate.line(rule, ("when",))
            problems.append(Problem(rule.file, line, message, rule.id, "when"))
        for action in rule.actions:
            named = getattr(action.params, "tiers_named", None)
            if not callable(named):
                continue
            for keys, tier in named():
                if tier in tiers:
                    continue
                path = ("then", action.index, action.type.name, *keys)
                key = f"then[{action.index}].{action.type.name}.{'.'.join(keys)}"
                message = _unknown(tier, "a tier", tiers, tier_listing)
                problems.append(Problem(rule.file, locate.line(rule, path), message, rule.id, key))
    return problems


__all__ = ["FIXED_VALUES", "TIER_VALUED", "check_rule_tiers", "named_values"]
