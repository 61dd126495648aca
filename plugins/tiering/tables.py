"""What the tiering plugin keeps in the store.

All of it is history keyed by an instant, so features computed as of any instant (a
cycle, a delivery re-rendering a firing, a backtest, ``explain``) read what was true then:

``tier_states``       one row per change of a customer's tier status (tier, pending downgrade)
``tier_current``      each customer's latest ``tier_states`` row, kept beside the history
                      (:mod:`plugins.tiering.current`)
``tiering_settings``  the feature-relevant part of the ``tiers:`` section, when it changed
``loyalty_points``    points granted (+) and written off as expired (−), one row per firing
``loyalty_coupons``   coupons issued, one per firing, each with a unique code
``loyalty_credits``   the events (purchases, referrals, surveys) a points grant paid for

Redemptions are not copied here: they arrive as ``points_redeemed`` / ``coupon_redeemed``
events and the features read them from ``events``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from core.store.tables import BigId, table_of


class TierStatus(SQLModel):
    """A customer's tier status from ``valid_from`` on: the columns of a ``tier_states``
    row, which ``tier_current`` copies.

    ``change`` says how ``tier`` was reached (initial, upgrade, downgrade, reassigned);
    ``downgrade_to``/``downgrade_at`` describe a pending downgrade (the customer is below
    the tier since the row that set them, and keeps the tier until ``downgrade_at``).
    """

    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    valid_from: int = Field(sa_type=BigInteger)
    tier: str = Field(max_length=64)
    tier_since: int = Field(sa_type=BigInteger)
    previous_tier: str | None = Field(default=None, max_length=64)
    change: str = Field(max_length=16)
    downgrade_to: str | None = Field(default=None, max_length=64)
    downgrade_at: int | None = Field(default=None, sa_type=BigInteger)
    cycle_id: int | None = None


class TierState(TierStatus, table=True):
    """A customer's tier status from ``valid_from`` until the next row (the history)."""

    __tablename__ = "tier_states"

    valid_from: int = Field(sa_type=BigInteger, primary_key=True)


class TierCurrent(TierStatus, table=True):
    """A customer's latest ``tier_states`` row, copied: the status in force at any
    instant from the latest row's on, read by key instead of found in the history."""

    __tablename__ = "tier_current"


class TieringSettingsRecord(SQLModel, table=True):
    """The feature-relevant part of the ``tiers:`` section, in force from ``as_of``."""

    __tablename__ = "tiering_settings"
    __table_args__ = (Index("ix_tiering_settings_as_of", "as_of"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    as_of: int = Field(sa_type=BigInteger)
    digest: str = Field(max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LoyaltyPoints(SQLModel, table=True):
    """Points granted (``points`` > 0) or written off as expired (< 0) by one firing."""

    __tablename__ = "loyalty_points"
    __table_args__ = (Index("ix_loyalty_points_customer", "customer_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ledger_id: int = Field(sa_type=BigInteger, unique=True, description="one row per firing")
    customer_id: int = Field(foreign_key="customers.id")
    kind: str = Field(max_length=16, description="grant or expire")
    points: int = Field(sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger, description="the firing's instant")
    expires_at: int | None = Field(default=None, sa_type=BigInteger, description="grants")
    rule_id: str = Field(max_length=128)
    reason: str | None = Field(default=None, max_length=128)


class LoyaltyCoupon(SQLModel, table=True):
    """A coupon issued by one firing: a fixed ``amount`` (minor units) or a ``percent`` off."""

    __tablename__ = "loyalty_coupons"
    __table_args__ = (Index("ix_loyalty_coupons_customer", "customer_id", "issued_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ledger_id: int = Field(sa_type=BigInteger, unique=True, description="one coupon per firing")
    code: str = Field(max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customers.id")
    rule_id: str = Field(max_length=128)
    amount: int | None = Field(default=None, sa_type=BigInteger, description="minor units off")
    percent: int | None = Field(default=None, description="percent off")
    min_spend: int | None = Field(default=None, sa_type=BigInteger, description="minor units")
    issued_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)


class LoyaltyCredit(SQLModel, table=True):
    """An event (a purchase, a referral, a survey) that a points grant has paid for: once."""

    __tablename__ = "loyalty_credits"
    __table_args__ = (Index("ix_loyalty_credits_ledger", "ledger_id"),)

    event_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ledger_id: int = Field(sa_type=BigInteger)
    customer_id: int = Field(foreign_key="customers.id")
    credited_at: int = Field(sa_type=BigInteger, description="the firing's instant")


tier_states = table_of(TierState)
tier_current = table_of(TierCurrent)
settings_records = table_of(TieringSettingsRecord)
points = table_of(LoyaltyPoints)
coupons = table_of(LoyaltyCoupon)
credits = table_of(LoyaltyCredit)

__all__ = [
    "LoyaltyCoupon",
    "LoyaltyCredit",
    "LoyaltyPoints",
    "TierCurrent",
    "TierState",
    "TierStatus",
    "TieringSettingsRecord",
    "coupons",
    "credits",
    "points",
    "settings_records",
    "tier_current",
    "tier_states",
]
