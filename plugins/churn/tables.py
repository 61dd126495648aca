"""What the churn plugin keeps in the store: BG/NBD fits and the churn settings in force.

Both are histories keyed by the instant they take effect, so a feature computed as of
any instant (a cycle, a delivery re-rendering a firing, a backtest) uses the fit and
the settings that were in force then: the latest row with ``as_of <= instant``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from core.store.tables import BigId, table_of


class ChurnModelFit(SQLModel, table=True):
    """One maximum-likelihood fit of the BG/NBD model (time unit: weeks).

    ``as_of`` is the fit date: the transactions up to that instant were used, and the
    parameters apply to scoring from that instant on (until the next fit).
    """

    __tablename__ = "churn_model_fits"
    __table_args__ = (Index("ix_churn_model_fits_as_of", "as_of"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    as_of: int = Field(sa_type=BigInteger, description="fit date: data up to this instant")
    cycle_id: int | None = Field(default=None, description="the cycle that fitted it")
    r: float
    alpha: float
    a: float
    b: float
    n_customers: int = Field(description="customers with at least one purchase")
    n_repeat_customers: int = Field(description="customers with a repeat purchase")
    log_likelihood: float


class ChurnSettingsRecord(SQLModel, table=True):
    """The ``churn:`` section of the rule files, recorded when a cycle first sees it."""

    __tablename__ = "churn_settings"
    __table_args__ = (Index("ix_churn_settings_as_of", "as_of"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    as_of: int = Field(sa_type=BigInteger, description="in force from this instant")
    digest: str = Field(max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


model_fits = table_of(ChurnModelFit)
settings_records = table_of(ChurnSettingsRecord)

__all__ = ["ChurnModelFit", "ChurnSettingsRecord", "model_fits", "settings_records"]
