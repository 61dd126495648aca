"""Rendering due messages: the features a template needs, as of the firing, then Jinja2.

Delivery renders from features recomputed as of each firing's instant (same SQL as the
cycle, a batch of customers at a time). Only the feature sets a template actually uses
are computed: its variables are read from the parsed template once, and a template that
includes or imports other files, or uses ``features`` in a way that cannot be read
statically, gets every feature.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import meta, nodes

from core.config import Settings
from core.registry import Registry
from core.templates import RenderedMessage, TemplateCatalog, build_context


class _AnyName(dict[str, Any]):
    """Filters and tests for static analysis only: every name exists (rendering checks)."""

    def __contains__(self, name: object) -> bool:
        return True

    def get(self, name: str, default: Any = None) -> Any:
        return _anything

    def __missing__(self, name: str) -> Any:
        return _anything


def _anything(*args: Any, **kwargs: Any) -> None:
    return None


_PARSER = jinja2.Environment()
_PARSER.filters = _AnyName()
_PARSER.tests = _AnyName()
_OPAQUE = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def zone_of(name: str | None, settings: Settings) -> ZoneInfo:
    """The customer's zone, or the configured one when it is missing or unknown."""
    try:
        return ZoneInfo(name) if name else settings.zone
    except (ZoneInfoNotFoundError, ValueError):
        return settings.zone


def rule_info(row: Mapping[str, Any], descriptions: Mapping[str, str]) -> dict[str, Any]:
    rule_id = row["rule_id"]
    return {
        "id": rule_id,
        "description": descriptions.get(rule_id, ""),
        "category": row["category"],
    }


def render_preview(
    catalog: TemplateCatalog,
    settings: Settings,
    rule: Mapping[str, Any],
    params: Mapping[str, Any],
    customer: Mapping[str, Any],
    features: Mapping[str, Any],
    as_of: int,
) -> RenderedMessage:
    """The message a ``send`` would deliver, rendered without touching the ledger (dry runs).

    ``params`` are the action's arguments (``template`` is used); raises TemplateError.
    """
    zone = zone_of(customer.get("timezone"), settings)
    context = build_context(customer, features, rule, as_of, zone, settings.currency)
    return catalog.render(str(params["template"]), customer.get("locale"), context)


def template_features(
    catalog: TemplateCatalog, template: str, feature_names: Collection[str]
) -> frozenset[str] | None:
    """The features ``template`` reads (in any locale file), or None for "all of them"."""
    known = set(feature_names)
    used: set[str] = set()
    for locale in catalog.locales(template):
        try:
            ast = _PARSER.parse(catalog.path(template, locale).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, jinja2.TemplateSyntaxError):
            return None  # rendering reports the problem
        if any(True for _ in ast.find_all(_OPAQUE)):
            return None
        undeclared = meta.find_undeclared_variables(ast)
        used |= undeclared & known
        if "features" in undeclared:
            through = _through_features(ast)
            if through is None:
                return None
            used |= through & known
    return frozenset(used)


def _through_features(ast: nodes.Template) -> set[str] | None:
    """Names read as ``features.x`` or ``features["x"]``; None if ``features`` escapes."""
    names: set[str] = set()
    recognised = 0
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not (isinstance(target, nodes.Name) and target.name == "features"):
            continue
        if isinstance(node, nodes.Getattr):
            names.add(node.attr)
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            names.add(node.arg.value)
        else:
            return None
        recognised += 1
    loads = sum(1 for n in ast.find_all(nodes.Name) if n.name == "features" and n.ctx == "load")
    return names if loads == recognised else None


def registry_for(registry: Registry, features: Iterable[str]) -> Registry:
    """A registry with only the feature sets that compute ``features`` (and what they need)."""
    wanted: set[str] = set()
    todo = [registry.feature_set_of[name] for name in features if name in registry.feature_set_of]
    while todo:
        set_name = todo.pop()
        if set_name in wanted:
            continue
        wanted.add(set_name)
        for needed in getattr(registry.feature_sets[set_name], "needs", ()) or ():
            if needed in registry.feature_set_of:
                todo.append(registry.feature_set_of[needed])
    subset = Registry()
    for set_name in sorted(wanted):
        fset = registry.feature_sets[set_name]
        owner = registry.feature_sets.owners[set_name]
        subset.feature_sets.add(set_name, fset, owner)
        for feature in fset.features:
            subset.features.add(feature.name, feature, owner)
            subset.feature_set_of[feature.name] = set_name
    return subset


__all__ = ["registry_for", "render_preview", "rule_info", "template_features", "zone_of"]
