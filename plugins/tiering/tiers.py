"""The ``tiers:`` section of rule files: the operator's ordered tier list, grace and RFM.

Every key is optional; the defaults (the seeds' five levels, SEEDS §2.1) apply when no
rule file defines the section, and ``rules/tiering.yaml`` ships them written out::

    tiers:
      grace: 30d                   # a downgrade waits this long below the tier's condition
      rfm: {window: 365d, ties: average}
      levels:                      # tried in order; the first whose condition holds wins
        - name: vip
          when: spend_365d >= 5000000 or rfm_score >= 15
          priority_service: true
        - name: important
          when: spend_365d >= 1000000 or rfm_score >= 13
        - name: general
          when: purchase_count >= 2 and purchase_count_365d >= 1
        - name: new
          when: tenure_days < 30 and purchase_count < 2
          grace: 0d                # leaving 'new' needs no grace
        - name: potential          # the last tier has no condition: everyone else

``patron check`` names duplicate tiers, a tier without a condition before the last one,
conditions that do not type-check or read the tier features themselves, and tiers that
can never be reached (a condition no customer can satisfy, or one whose every customer
an earlier tier already takes — see :mod:`plugins.tiering.reachability`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.config import parse_duration
from core.expr import Expr, ExprSyntaxError, parse
from core.expr import check as check_expression
from core.expr.ast import feature_names
from core.vocabulary import FeatureType, SectionCheckEnv
from plugins.tiering.reachability import reachability

Loc = tuple[str | int, ...]
DAY = 86400
TIER_NAME = r"^[a-z][a-z0-9_]*$"
# Features the tiering stage itself decides: a tier condition cannot read them.
STATE_FEATURES = (
    "tier",
    "previous_tier",
    "tier_since_days",
    "tier_change",
    "tier_changed_to",
    "tier_changed_from",
    "tier_downgrade_to",
    "days_until_downgrade",
    "priority_service",
)


def duration_text(value: Any) -> str:
    """A duration written as text (``30d``, ``12h``, ``2w``, ``0d``); bare numbers are refused."""
    if not isinstance(value, str):
        raise ValueError("write a duration such as 30d, 12h or 2w")
    parse_duration(value)
    return value


class TierLevel(BaseModel):
    """One tier of the ordered list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lowercase letters, digits and '_', starting with a letter.")
    when: str | None = Field(
        default=None,
        description="Entry condition over customer features; the last tier has none.",
    )
    grace: str | None = Field(
        default=None,
        description="How long a customer keeps this tier below its condition (default: the "
        "section's grace).",
    )
    priority_service: bool = Field(
        default=False, strict=True, description="Customers in this tier get priority service."
    )
    description: str = Field(default="", description="What the tier means, in plain words.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(TIER_NAME, value):
            raise ValueError(
                "a tier name uses lowercase letters, digits and '_', starting with a letter"
            )
        return value

    @field_validator("grace", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> Any:
        return None if value is None else duration_text(value)


class RfmSettings(BaseModel):
    """How recency, frequency and monetary scores are computed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: str = Field(
        default="365d", description="Purchases in this window count; buyers in it are ranked."
    )
    ties: Literal["average", "customer_id"] = Field(
        default="average",
        description="average: equal values share the score of their group's middle position; "
        "customer_id: equal values are split by customer id (like NTILE).",
    )

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> str:
        seconds = parse_duration(duration_text(value))
        if seconds < DAY:
            raise ValueError("the RFM window must be at least one day")
        return str(value)

    @property
    def window_seconds(self) -> int:
        return parse_duration(self.window)


def default_levels() -> list[TierLevel]:
    """The seeds' five levels: VIP, important, general, new, potential."""
    return [
        TierLevel(
            name="vip",
            when="spend_365d >= 5000000 or rfm_score >= 15",
            priority_service=True,
            description="Top customers: dedicated account manager and priority service.",
        ),
        TierLevel(
            name="important",
            when="spend_365d >= 1000000 or rfm_score >= 13",
            description="High-value customers: regular maintenance contact.",
        ),
        TierLevel(
            name="general",
            when="purchase_count >= 2 and purchase_count_365d >= 1",
            description="Repeat customers active in the last year: more communication.",
        ),
        TierLevel(
            name="new",
            when="tenure_days < 30 and purchase_count < 2",
            grace="0d",
            description="Joined in the last 30 days with at most one purchase: onboarding.",
        ),
        TierLevel(
            name="potential",
            description="Everyone else (prospects, one-time and lapsed buyers): development.",
        ),
    ]


class TiersSection(BaseModel):
    """The validated ``tiers:`` section."""

    model_config = ConfigDict(extra="forbid")

    grace: str = Field(
        default="30d",
        description="A downgrade takes effect only after the customer stayed below the "
        "tier's condition this long; an upgrade takes effect at once.",
    )
    rfm: RfmSettings = Field(default_factory=RfmSettings)
    levels: list[TierLevel] = Field(default_factory=default_levels, min_length=2)

    @field_validator("grace", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> str:
        return duration_text(value)

    @property
    def names(self) -> list[str]:
        return [level.name for level in self.levels]

    def grace_seconds(self, level: TierLevel) -> int:
        return parse_duration(level.grace if level.grace is not None else self.grace)

    def conditions(self) -> list[Expr | None]:
        """The parsed conditions (valid after the section's check)."""
        return [parse(level.when) if level.when is not None else None for level in self.levels]

    @property
    def priority_tiers(self) -> list[str]:
        return [level.name for level in self.levels if level.priority_service]


def section_of(rules: Any) -> TiersSection:
    """The ``tiers:`` section of a loaded rule set, or the defaults."""
    sections = getattr(rules, "sections", None) or {}
    found = sections.get("tiers")
    return found.value if found is not None else TiersSection()


def check_tiers(value: TiersSection, env: SectionCheckEnv) -> list[tuple[Loc, str]]:
    """Semantic problems of the tier list, each located inside the section."""
    problems: list[tuple[Loc, str]] = []
    levels = value.levels
    first_at: dict[str, int] = {}
    for index, level in enumerate(levels):
        if level.name in first_at:
            problems.append(
                (
                    ("levels", index, "name"),
                    f"tier '{level.name}' is defined twice (also levels[{first_at[level.name]}])",
                )
            )
        first_at.setdefault(level.name, index)
    last = len(levels) - 1
    if levels[last].when is not None:
        problems.append(
            (
                ("levels", last, "when"),
                f"the last tier ('{levels[last].name}') takes every customer no earlier tier "
                "took: remove its 'when', or add a last tier without one",
            )
        )
    for index, level in enumerate(levels[:last]):
        if level.when is None:
            after = ", ".join(f"'{lv.name}'" for lv in levels[index + 1 :])
            problems.append(
                (
                    ("levels", index),
                    f"tier '{level.name}' has no 'when', so it takes every remaining customer "
                    f"and {after} can never be reached: give it a condition or move it last",
                )
            )
    parsed = _parse_conditions(levels, env.feature_types, problems)
    if not problems:
        problems.extend(_unreachable(levels, parsed, env.feature_types))
    return problems


def _parse_conditions(
    levels: Sequence[TierLevel],
    features: dict[str, FeatureType],
    problems: list[tuple[Loc, str]],
) -> list[Expr | None]:
    parsed: list[Expr | None] = []
    for index, level in enumerate(levels):
        where: Loc = ("levels", index, "when")
        if level.when is None:
            parsed.append(None)
            continue
        try:
            expr = parse(level.when)
        except ExprSyntaxError as exc:
            problems.append((where, exc.message))
            parsed.append(None)
            continue
        own = sorted(feature_names(expr) & set(STATE_FEATURES))
        for name in own:
            problems.append(
                (
                    where,
                    f"a tier condition cannot use '{name}': the tiering stage decides it from "
                    "the other features (the grace period keeps customers in their tier)",
                )
            )
        allowed = {k: v for k, v in features.items() if k not in STATE_FEATURES}
        if not own:
            problems.extend((where, p.message) for p in check_expression(expr, allowed))
        parsed.append(expr)
    return parsed


def _unreachable(
    levels: Sequence[TierLevel], parsed: Sequence[Expr | None], features: dict[str, FeatureType]
) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for verdict in reachability(parsed, features):
        level = levels[verdict.index]
        where: Loc = ("levels", verdict.index, "when")
        if not verdict.satisfiable:
            problems.append(
                (
                    where,
                    f"tier '{level.name}' can never be reached: no customer can satisfy its condition",
                )
            )
        elif not verdict.reachable:
            same = next(
                (
                    levels[i].name
                    for i in range(verdict.index)
                    if parsed[i] == parsed[verdict.index]
                ),
                None,
            )
            if same is not None:
                why = f"it has the same condition as tier '{same}'"
            else:
                names = " or ".join(f"'{levels[i].name}'" for i in verdict.covered_by)
                why = f"every customer its condition admits is already taken by {names}"
            problems.append(
                (
                    where,
                    f"tier '{level.name}' can never be reached: {why} (tiers are tried in "
                    "order, the first whose condition holds wins)",
                )
            )
    return problems


__all__ = [
    "DAY",
    "STATE_FEATURES",
    "RfmSettings",
    "TierLevel",
    "TiersSection",
    "check_tiers",
    "default_levels",
    "section_of",
]
