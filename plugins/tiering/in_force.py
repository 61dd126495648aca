"""Which part of the ``tiers:`` section features depend on, and when it took effect.

Feature sets do not see the rule files; the tiering stage does. So the stage records
the feature-relevant settings (RFM window and ties, the priority-service tiers) when a
cycle first sees them change, and feature sets use the record in force at their instant:
the latest one with ``as_of <= instant``. A delivery re-rendering an older firing, an
``explain`` or a backtest then sees the settings that were in force, like the cycle did.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select

from plugins.tiering.tables import settings_records
from plugins.tiering.tiers import RfmSettings, TiersSection


class FeatureSettings(BaseModel):
    """The settings features are computed with (defaults before any record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rfm: RfmSettings = Field(default_factory=RfmSettings)
    priority_tiers: tuple[str, ...] = ("vip",)

    @classmethod
    def of(cls, section: TiersSection) -> FeatureSettings:
        return cls(rfm=section.rfm, priority_tiers=tuple(section.priority_tiers))

    def digest(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _latest(conn: Connection, as_of: int) -> tuple[str, dict[str, object]] | None:
    row = conn.execute(
        select(settings_records.c.digest, settings_records.c.settings)
        .where(settings_records.c.as_of <= as_of)
        .order_by(settings_records.c.as_of.desc(), settings_records.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def settings_in_force(conn: Connection, as_of: int) -> FeatureSettings:
    """The settings recorded at or before ``as_of`` (the defaults before any record)."""
    found = _latest(conn, as_of)
    return FeatureSettings() if found is None else FeatureSettings.model_validate(found[1])


def record_settings(conn: Connection, value: FeatureSettings, as_of: int) -> bool:
    """Record ``value`` as in force from ``as_of`` unless it already is; True if recorded."""
    found = _latest(conn, as_of)
    digest = value.digest()
    if found is not None and found[0] == digest:
        return False
    if found is None and digest == FeatureSettings().digest():
        return False  # the defaults are in force without a record
    conn.execute(
        insert(settings_records).values(
            as_of=as_of, digest=digest, settings=value.model_dump(mode="json")
        )
    )
    return True


__all__ = ["FeatureSettings", "record_settings", "settings_in_force"]
