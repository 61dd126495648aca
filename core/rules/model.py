"""What a rule file may contain (pydantic, for the schema layer) and what loading yields.

:class:`RuleFileModel` and :class:`RuleModel` describe the raw YAML; every key is
checked by them, unknown keys are errors. The validated result is plain frozen
dataclasses (:class:`RuleDef`, :class:`ActionCall`) gathered in a :class:`RuleSet`,
which is exactly what the cycle engine consumes.

The schema layer's pydantic errors are put in operator words here too
(:func:`schema_errors`), next to the models they come from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from core.suggest import did_you_mean

if TYPE_CHECKING:
    from core.expr import Expr
    from core.rules.once_per import OncePer
    from core.rules.schedule import Schedule
    from core.vocabulary import ActionParams, ActionType

Category = Literal["care", "service", "marketing", "loyalty", "transactional"]
CATEGORIES: tuple[str, ...] = get_args(Category)
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
DEFAULT_PRIORITY = 100


class RuleModel(BaseModel):
    """One rule as written in YAML (``then`` entries are checked against the registry later)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=RULE_ID_PATTERN,
        description="Unique across all rule files: lowercase letters, digits, '-' and '_'.",
    )
    description: str = Field(default="", description="What the rule is for, in plain words.")
    schedule: str = Field(
        description="5-field cron in the configured time zone ('0 9 * * *') "
        "or an interval ('every 15m', 'every 2h', 'every 1d')."
    )
    when: str = Field(description="Condition over customer features, e.g. 'tier == \"vip\"'.")
    once_per: str = Field(
        description="once, day, week, month, quarter, year, or a duration (30m, 12h, 7d, 2w)."
    )
    priority: int = Field(
        default=DEFAULT_PRIORITY,
        strict=True,
        description="Lower numbers are more important (evaluated and delivered first).",
    )
    category: Category = Field(description="care, service, marketing, loyalty or transactional.")
    enabled: bool = Field(
        default=True, strict=True, description="false keeps the rule but never runs it."
    )
    then: list[Any] = Field(
        min_length=1,
        description="Actions, each a mapping with one key, the action name: "
        "'- send: {channel: email, template: care/birthday}'.",
    )


class RuleFileModel(BaseModel):
    """The top level of a rule file."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Any] = Field(description="The rules of this file (may be empty).")


@dataclass(frozen=True)
class ActionCall:
    """One validated entry of a rule's ``then:`` list."""

    index: int  # position in then:
    type: ActionType
    params: ActionParams
    line: int | None


@dataclass(frozen=True)
class RuleDef:
    """A fully validated rule, ready for the cycle."""

    id: str
    description: str
    when: str
    condition: Expr
    schedule: Schedule
    once_per: OncePer
    priority: int
    category: str
    enabled: bool
    actions: tuple[ActionCall, ...]
    file: str
    line: int  # where the rule starts


@dataclass(frozen=True)
class SectionValue:
    """A validated plugin section of a rule file (``tiers:`` ...), with where it was written."""

    name: str
    value: Any  # an instance of the section's pydantic model
    file: str
    line: int


@dataclass
class RuleSet:
    """Every valid rule of the loaded files, in file order."""

    rules: list[RuleDef] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    sections: dict[str, SectionValue] = field(default_factory=dict)

    def get(self, rule_id: str) -> RuleDef | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def enabled(self) -> list[RuleDef]:
        return [rule for rule in self.rules if rule.enabled]


# --- pydantic errors in operator words ----------------------------------------------------

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaError:
    """One schema violation: where it is, which key to name, and what to say."""

    loc: Loc  # in the validated mapping: the offending key, or the mapping of a missing one
    key: Loc  # the key named in the problem: the mapping itself for missing and unknown keys
    message: str


def schema_errors(exc: ValidationError, model: type[BaseModel]) -> list[SchemaError]:
    """Every pydantic error of ``model`` in operator words.

    Missing and unknown keys are named on the enclosing mapping (``then[0].send: unknown
    key 'tempalte'``), wrong values on their own key (``priority: expected ...``). A
    missing key that an unknown key is a misspelling of is reported once, as the latter.
    """
    errors = exc.errors(include_url=False)
    misspelt = {
        (tuple(e["loc"][:-1]), did_you_mean(str(e["loc"][-1]), field_names(model, e["loc"][:-1])))
        for e in errors
        if e["type"] == "extra_forbidden"
    }
    found: list[SchemaError] = []
    for err in errors:
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "missing":
            if (loc[:-1], f" (did you mean '{loc[-1]}'?)") not in misspelt:
                found.append(SchemaError(loc[:-1], loc[:-1], f"missing key '{loc[-1]}'"))
        elif kind == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), field_names(model, loc[:-1]))
            found.append(SchemaError(loc, loc[:-1], f"unknown key '{loc[-1]}'{hint}"))
        else:
            rule_key = str(loc[0]) if model is RuleModel and len(loc) == 1 else None
            found.append(SchemaError(loc, loc, value_message(err, rule_key)))
    return found


def value_message(err: Any, rule_key: str | None = None) -> str:
    """The operator's wording of a pydantic error about a value (``rule_key``: a rule's own key)."""
    kind: str = err["type"]
    value = err.get("input")
    ctx: dict[str, Any] = err.get("ctx") or {}
    shown = show(value)
    if rule_key == "id" and kind == "string_pattern_mismatch":
        return (
            f"{shown} is not a valid rule id: use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    if rule_key == "category" and kind == "literal_error":
        hint = did_you_mean(value, CATEGORIES) if isinstance(value, str) else ""
        return f"unknown category {shown}{hint}; use one of: {', '.join(CATEGORIES)}"
    if rule_key == "then" and kind == "too_short":
        return "a rule needs at least one action"
    expected = _EXPECTED.get(kind)
    if expected:
        return f"expected {expected}, got {shown}"
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return f"{shown} is not allowed{hint}; use one of: {', '.join(choices)}"
    if kind == "string_pattern_mismatch":
        return f"{shown} does not match the pattern {ctx.get('pattern')}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{message[:1].lower()}{message[1:]}, got {shown}"


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def show(value: Any) -> str:
    """A value as an operator would recognise it from the YAML."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):  # YAML reads 2026-01-01 as a date
        return value.isoformat()
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def field_names(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys a (possibly nested) model accepts at ``loc``, for did-you-mean hints."""
    current: Any = _model_in(model) or model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if _is_model(current) else None
        if info is None:
            return []
        current = _model_in(info.annotation)
        if current is None:
            return []
    if not _is_model(current):
        return []
    return [info.alias or name for name, info in current.model_fields.items()]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> Any:
    if _is_model(annotation):
        if issubclass(annotation, RootModel):  # a list section (journeys:): its items' model
            return _model_in(annotation.model_fields["root"].annotation)
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
