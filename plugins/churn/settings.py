"""The ``churn:`` section of rule files: model refits, risk weights and band thresholds.

Every key is optional; the defaults below apply when the section is absent::

    churn:
      fit_every: 7d                 # refit BG/NBD when the fit in force is older
      fit_sample: 200000            # fit to a fixed sample of this many buyers (0: all)
      min_repeat_customers: 20      # fewer repeat buyers: no fit, p_alive stays empty
      bands: {high: 0.7, medium: 0.4}
      weights:                      # how far each signal alone can raise churn_risk (0–1)
        model: 0.8                  # 1 - p_alive (BG/NBD)
        inactivity: 0.7             # silent for several of the customer's own purchase gaps
        decline: 0.4                # purchases or spend of the last 90 days vs the 90 before
        complaints: 0.6             # complaints in the last 90 days
        satisfaction: 0.5           # a low or falling survey score
        unanswered_contact: 0.3     # we contacted the customer and nobody replied
      typical_gap_days: 60          # the purchase gap assumed for one-time buyers
      silent_gaps_for_full_risk: 3  # inactivity is 1 after three typical gaps of silence
      complaints_for_full_risk: 2
      satisfied_score: 4            # survey scores (1–5) from here up carry no risk
      unanswered_contact_days: 3    # SEEDS §3.1: no reply within 3 days costs satisfaction

A cycle records the section when it changes (``churn_settings``), and features as of
an instant use the settings recorded at or before it — so a message rendered later,
an ``explain`` or a backtest sees the thresholds that were in force.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, insert, select

from core.journeys.durations import parse_duration
from core.vocabulary import RuleSection, SectionCheckEnv
from plugins.churn.tables import settings_records

Loc = tuple[str | int, ...]


class Bands(BaseModel):
    """churn_risk thresholds: at or above ``high`` → high, at or above ``medium`` → medium."""

    model_config = ConfigDict(extra="forbid")

    high: float = Field(default=0.7, gt=0.0, le=1.0)
    medium: float = Field(default=0.4, gt=0.0, le=1.0)


class Weights(BaseModel):
    """The most each signal can contribute on its own; signals combine as a noisy-OR."""

    model_config = ConfigDict(extra="forbid")

    model: float = Field(default=0.8, ge=0.0, le=1.0)
    inactivity: float = Field(default=0.7, ge=0.0, le=1.0)
    decline: float = Field(default=0.4, ge=0.0, le=1.0)
    complaints: float = Field(default=0.6, ge=0.0, le=1.0)
    satisfaction: float = Field(default=0.5, ge=0.0, le=1.0)
    unanswered_contact: float = Field(default=0.3, ge=0.0, le=1.0)


class ChurnSettings(BaseModel):
    """The validated ``churn:`` section."""

    model_config = ConfigDict(extra="forbid")

    fit_every: str = Field(default="7d", description="Refit BG/NBD when the fit is this old.")
    fit_sample: int = Field(
        default=200_000,
        ge=0,
        description="Fit BG/NBD to a fixed pseudo-random sample of this many buyers when "
        "there are more (every buyer is still scored); 0 fits to every buyer.",
    )
    min_repeat_customers: int = Field(default=20, ge=1)
    bands: Bands = Field(default_factory=Bands)
    weights: Weights = Field(default_factory=Weights)
    typical_gap_days: float = Field(default=60.0, gt=0.0)
    silent_gaps_for_full_risk: float = Field(default=3.0, gt=1.0)
    complaints_for_full_risk: int = Field(default=2, ge=1)
    satisfied_score: float = Field(default=4.0, gt=1.0)
    unanswered_contact_days: float = Field(default=3.0, gt=0.0)

    @field_validator("fit_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def fit_every_seconds(self) -> int:
        return parse_duration(self.fit_every)

    def digest(self) -> str:
        return hashlib.sha256(
            json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        ).hexdigest()


def check_churn(value: ChurnSettings, env: SectionCheckEnv) -> list[tuple[Loc, str]]:
    if value.bands.medium >= value.bands.high:
        return [
            (
                ("bands", "medium"),
                f"the medium threshold ({value.bands.medium:g}) must be below the high one "
                f"({value.bands.high:g})",
            )
        ]
    return []


CHURN_SECTION = RuleSection(
    name="churn",
    model=ChurnSettings,
    description="Churn model refits, risk weights and the high/medium/low band thresholds.",
    check=check_churn,
    example="churn:\n  fit_every: 7d\n  bands: {high: 0.7, medium: 0.4}\n",
)


def settings_of(rules: Any) -> ChurnSettings:
    """The ``churn:`` section of a loaded rule set, or the defaults."""
    section = getattr(rules, "sections", {}).get("churn") if rules is not None else None
    return section.value if section is not None else ChurnSettings()


def settings_in_force(conn: Connection, as_of: int) -> ChurnSettings:
    """The settings recorded at or before ``as_of`` (the defaults before any record)."""
    row = conn.execute(
        select(settings_records.c.settings)
        .where(settings_records.c.as_of <= as_of)
        .order_by(settings_records.c.as_of.desc(), settings_records.c.id.desc())
        .limit(1)
    ).first()
    return ChurnSettings() if row is None else ChurnSettings.model_validate(row[0])


def record_settings(conn: Connection, value: ChurnSettings, as_of: int) -> bool:
    """Record ``value`` as in force from ``as_of`` unless it already is; True if recorded."""
    row = conn.execute(
        select(settings_records.c.digest)
        .where(settings_records.c.as_of <= as_of)
        .order_by(settings_records.c.as_of.desc(), settings_records.c.id.desc())
        .limit(1)
    ).first()
    digest = value.digest()
    if row is not None and row[0] == digest:
        return False
    if row is None and digest == ChurnSettings().digest():
        return False  # the defaults are in force without a record
    conn.execute(
        insert(settings_records).values(
            as_of=as_of, digest=digest, settings=value.model_dump(mode="json")
        )
    )
    return True


__all__ = [
    "CHURN_SECTION",
    "ChurnSettings",
    "record_settings",
    "settings_in_force",
    "settings_of",
]
