"""Validation of one rule file, in layers, each finding a :class:`core.errors.Problem`.

1. YAML: syntax and duplicate keys (:mod:`core.rules.yaml_source`).
2. Structure: a mapping with a ``rules`` list; each rule a mapping; each action a
   mapping with one key.
3. Schema: the pydantic models of :mod:`core.rules.model` (missing and unknown
   keys, wrong types, categories, rule ids).
4. Semantics: actions known to the registry with valid arguments and passing the
   action's own check; ``when`` parsed and type-checked against the features;
   ``schedule`` and ``once_per`` readable.

Every problem is found, not just the first, and each names the file, the line,
the rule and the key. Cross-file checks (duplicate ids) live in :mod:`core.rules.load`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from core.errors import Problem
from core.expr import Expr, ExprSyntaxError, parse
from core.expr import check as check_expression
from core.registry import Registry
from core.rules.model import (
    ActionCall,
    Loc,
    RuleDef,
    RuleFileModel,
    RuleModel,
    SectionValue,
    schema_errors,
    show,
)
from core.rules.once_per import OncePer
from core.rules.schedule import Schedule
from core.rules.yaml_source import SourceMap, YamlPath, load_yaml
from core.suggest import did_you_mean
from core.vocabulary import CheckEnv, FeatureType

T = TypeVar("T")


@dataclass
class Reporter:
    """Collects problems of one file, locating each by its path in the YAML."""

    file: str
    source: SourceMap
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        path: YamlPath,
        message: str,
        *,
        rule: str | None = None,
        key: str | None = None,
        severity: str = "error",
    ) -> None:
        line = self.source.line(path)
        self.problems.append(Problem(self.file, line, message, rule, key, severity))

    def errors_since(self, start: int) -> bool:
        return any(p.severity == "error" for p in self.problems[start:])


@dataclass
class FileResult:
    """The valid rules of one file, its problems, and every rule id seen (for cross-file checks)."""

    rules: list[RuleDef]
    problems: list[Problem]
    ids: list[tuple[str, int]]  # (rule id, line where the rule starts)
    sections: list[SectionValue] = field(default_factory=list)


@dataclass(frozen=True)
class SectionEnv:
    """What a plugin section's check may consult (core.vocabulary.SectionCheckEnv)."""

    feature_types: dict[str, FeatureType]
    env: CheckEnv

    @property
    def channel_names(self) -> Sequence[str]:
        return self.env.channel_names

    def template_problems(self, template: str, channel: str) -> list[str]:
        return self.env.template_problems(template, channel)


@dataclass(frozen=True)
class Context:
    """What semantic checks consult."""

    registry: Registry
    env: CheckEnv
    zone: ZoneInfo
    features: Mapping[str, FeatureType]


def validate_file(
    file: str, text: str, registry: Registry, env: CheckEnv, zone: ZoneInfo
) -> FileResult:
    """Validate the text of one rule file shown to the operator as ``file``."""
    doc = load_yaml(text)
    rep = Reporter(file, doc.source)
    rep.problems.extend(Problem(file, p.line, p.message) for p in doc.problems)
    result = FileResult([], rep.problems, [])
    if doc.data is None:
        if not doc.problems:
            rep.add(
                (),
                "the file is empty; write 'rules: []' for a file without rules",
                severity="warning",
            )
        return result
    ctx = Context(registry, env, zone, registry.feature_types())
    if isinstance(doc.data, dict):
        names = [k for k in doc.data if k in registry.rule_sections]
        for name in names:
            section = _check_section(rep, name, doc.data.pop(name), ctx)
            if section is not None and not doc.problems:
                result.sections.append(section)
        known = ["rules", *registry.rule_sections.names()]
        for key in [k for k in doc.data if k not in known and not str(k).startswith("x-")]:
            rep.add((key,), f"unknown key '{key}'{did_you_mean(str(key), known)}")
            del doc.data[key]
            names.append(key)
        if names and "rules" not in doc.data:
            doc.data["rules"] = []  # a file of sections only needs no rules list
    for index, raw in enumerate(_rule_entries(rep, doc.data)):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            result.ids.append((raw["id"], doc.source.line(("rules", index))))
        rule = _check_rule(rep, index, raw, ctx)
        if rule is not None and not doc.problems:  # after a duplicate key, trust no rule of it
            result.rules.append(rule)
    rep.problems.sort(key=lambda p: p.line or 0)
    return result


def _check_section(rep: Reporter, name: str, raw: Any, ctx: Context) -> SectionValue | None:
    """Validate a plugin-owned top-level section with its model, then its own check."""
    section = ctx.registry.rule_sections[name]
    start = len(rep.problems)
    try:
        value = section.model.model_validate(raw)
    except ValidationError as exc:
        report_validation(rep, exc, section.model, (name,), name, None)
        return None
    if section.check is not None:
        for loc, message in section.check(value, SectionEnv(dict(ctx.features), ctx.env)):
            rep.add((name, *loc), message, key=dotted(name, loc))
    if rep.errors_since(start):
        return None
    return SectionValue(name, value, rep.file, rep.source.line((name,)) or 1)


def _rule_entries(rep: Reporter, data: Any) -> list[Any]:
    if not isinstance(data, dict):
        rep.add((), f"expected a mapping with a 'rules' list at the top level, got {show(data)}")
        return []
    # keys starting with 'x-' hold YAML anchors for the rules to merge ('<<: *defaults')
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    if "rules" in data and data["rules"] is None:  # 'rules:' with every rule commented out
        data["rules"] = []
    try:
        return RuleFileModel.model_validate(data).rules
    except ValidationError as exc:
        report_validation(rep, exc, RuleFileModel, (), None, None)
    rules = data.get("rules")
    return rules if isinstance(rules, list) else []


def _check_rule(rep: Reporter, index: int, raw: Any, ctx: Context) -> RuleDef | None:
    path: YamlPath = ("rules", index)
    if not isinstance(raw, dict):
        rep.add(
            path,
            "expected a rule (a mapping with id, schedule, when, once_per, category, then), "
            f"got {show(raw)}",
            key=f"rules[{index}]",
        )
        return None
    rule_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
    start = len(rep.problems)
    model: RuleModel | None = None
    try:
        model = RuleModel.model_validate(raw)
    except ValidationError as exc:
        report_validation(rep, exc, RuleModel, path, None, rule_id)

    then = raw.get("then")
    entries = then if isinstance(then, list) else []
    actions = [_check_action(rep, path, j, entry, rule_id, ctx) for j, entry in enumerate(entries)]
    condition = _check_when(rep, path, raw.get("when"), rule_id, ctx.features)
    schedule = _parse_text(
        rep, path, raw, "schedule", lambda text: Schedule.parse(text, ctx.zone), rule_id
    )
    once_per = _parse_text(rep, path, raw, "once_per", OncePer.parse, rule_id)

    if rep.errors_since(start) or model is None:
        return None
    assert condition is not None and schedule is not None and once_per is not None
    return RuleDef(
        id=model.id,
        description=model.description,
        when=model.when,
        condition=condition,
        schedule=schedule,
        once_per=once_per,
        priority=model.priority,
        category=model.category,
        enabled=model.enabled,
        actions=tuple(a for a in actions if a is not None),
        file=rep.file,
        line=rep.source.line(path),
    )


def _check_when(
    rep: Reporter, path: YamlPath, text: Any, rule: str | None, features: Mapping[str, FeatureType]
) -> Expr | None:
    if not isinstance(text, str):
        return None  # reported by the schema layer
    where = (*path, "when")
    try:
        expr = parse(text)
    except ExprSyntaxError as exc:
        rep.add(where, exc.message, rule=rule, key="when")
        return None
    problems = check_expression(expr, features)
    for problem in problems:
        rep.add(where, problem.message, rule=rule, key="when")
    return None if problems else expr


def _parse_text(
    rep: Reporter,
    path: YamlPath,
    raw: Mapping[str, Any],
    key: str,
    parse_value: Callable[[str], T],
    rule: str | None,
) -> T | None:
    text = raw.get(key)
    if not isinstance(text, str):
        return None  # reported by the schema layer
    try:
        return parse_value(text)
    except ValueError as exc:
        rep.add((*path, key), str(exc), rule=rule, key=key)
        return None


def _check_action(
    rep: Reporter, rule_path: YamlPath, index: int, entry: Any, rule: str | None, ctx: Context
) -> ActionCall | None:
    path: YamlPath = (*rule_path, "then", index)
    key = f"then[{index}]"
    actions = ctx.registry.actions
    if not isinstance(entry, dict) or len(entry) != 1:
        rep.add(path, _not_one_action(entry, actions.names()), rule=rule, key=key)
        return None
    ((name, args),) = entry.items()
    if name not in actions:
        rep.add(
            path,
            f"unknown action '{name}'{did_you_mean(name, actions.names())}",
            rule=rule,
            key=key,
        )
        return None
    action = actions[name]
    here: YamlPath = (*path, name)
    if args is None:  # an action without arguments: '- notify:'
        args = {}
    if not isinstance(args, dict):
        rep.add(
            here,
            f"expected a mapping of arguments, got {show(args)}",
            rule=rule,
            key=f"{key}.{name}",
        )
        return None
    try:
        params = action.params.model_validate(args)
    except ValidationError as exc:
        report_validation(rep, exc, action.params, here, f"{key}.{name}", rule)
        return None
    if action.check is not None:
        for arg, message in action.check(params, ctx.env):
            rep.add((*here, *arg.split(".")), message, rule=rule, key=f"{key}.{name}.{arg}")
    return ActionCall(index=index, type=action, params=params, line=rep.source.line(path))


def _not_one_action(entry: Any, known: Sequence[str]) -> str:
    usage = (
        "an action is a mapping with one key, the action name, "
        "e.g. 'send: {channel: email, template: care/birthday}'"
    )
    if not isinstance(entry, dict):
        return f"{usage}; got {show(entry)}"
    if not entry:
        return f"{usage}; got an empty mapping"
    names = ", ".join(f"'{k}'" for k in entry)
    first, value = next(iter(entry.items()))
    hint = f" (indent the arguments under '{first}:')" if first in known and value is None else ""
    return f"{usage}; got {len(entry)} keys: {names}{hint}"


def report_validation(
    rep: Reporter,
    exc: ValidationError,
    model: type[BaseModel],
    path: YamlPath,
    key_prefix: str | None,
    rule: str | None,
) -> None:
    """Report each pydantic error of ``model`` validating the mapping at ``path``."""
    for error in schema_errors(exc, model):
        rep.add((*path, *error.loc), error.message, rule=rule, key=dotted(key_prefix, error.key))


def dotted(prefix: str | None, loc: Loc) -> str | None:
    """``then[1].send`` + ``("template",)`` → ``then[1].send.template``."""
    text = prefix or ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None
