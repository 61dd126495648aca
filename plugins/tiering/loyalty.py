"""Loyalty actions: ``grant_points``, ``issue_coupon`` and ``expire_points``.

All three are EFFECT actions: ``apply`` runs one set-based ``INSERT ... SELECT`` per
firing set in the cycle's transaction, keyed by the firing's ledger row (UNIQUE), so a
grant or a coupon happens exactly once per firing however often the cycle repeats.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
)

from core.config import parse_duration
from core.sql_exists import probe
from core.store.tables import Event, table_of
from core.suggest import did_you_mean
from core.vocabulary import ActionKind, ActionParams, ActionType, CheckEnv, EffectContext
from plugins.tiering.loyalty_features import UNREWARDED_WINDOW_DAYS, points_position
from plugins.tiering.sql import int_div, integer, upsert
from plugins.tiering.tables import coupons, credits, points

DAY = 86400
PERMILLE = 1000
ev = table_of(Event)
# Coupon codes: prefix + 10 digits of (ledger id * MULTIPLIER) mod PRIME, a bijection on
# ledger ids below PRIME, so codes are unique without a lookup and not simply sequential.
CODE_PRIME = 9_999_999_967
CODE_MULTIPLIER = 3_141_592_653


class GrantPointsParams(ActionParams):
    """Arguments of ``grant_points``."""

    points: int = Field(
        strict=True,
        description="Points per grant, or per 'per_amount' of spend, or per 'per_event' event.",
    )
    per_amount: int | None = Field(
        default=None,
        strict=True,
        description="Grant 'points' for each this many minor units of purchases no grant "
        "paid for yet (last 30 days), e.g. 100 = per ¥1; rounded down per grant.",
    )
    per_event: str | None = Field(
        default=None,
        description="Grant 'points' for each event of this type no grant paid for yet "
        "(last 30 days), e.g. referral or survey.",
    )
    tier_multiplier: dict[str, float] = Field(
        default_factory=dict,
        description="Multiply by tier, e.g. {vip: 2, important: 1.5}; other tiers get 1×.",
    )
    expires_after: str | None = Field(
        default="365d", description="The points expire this long after the grant; null: never."
    )
    reason: str = Field(default="", max_length=128, description="Shown in statements.")

    @field_validator("points")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(
                "points must be a positive number of points (points are taken back by "
                "points_redeemed events or when they expire)"
            )
        return value

    @field_validator("per_amount")
    @classmethod
    def _per_amount(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("per_amount must be a positive amount in minor units (100 = ¥1)")
        return value

    @field_validator("tier_multiplier")
    @classmethod
    def _multipliers(cls, value: dict[str, float]) -> dict[str, float]:
        for tier, factor in value.items():
            if factor < 0 or factor > 100 or round(factor * PERMILLE) != factor * PERMILLE:
                raise ValueError(
                    f"the multiplier of '{tier}' must be between 0 and 100 with at most three "
                    "decimals"
                )
        return value

    @field_validator("expires_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    def tiers_named(self) -> list[tuple[tuple[str, ...], str]]:
        """Tier names these arguments use (checked against the tier list)."""
        return [(("tier_multiplier", tier), tier) for tier in self.tier_multiplier]


class IssueCouponParams(ActionParams):
    """Arguments of ``issue_coupon``."""

    amount: int | None = Field(
        default=None, strict=True, description="Value off in minor units (5000 = ¥50)."
    )
    percent: int | None = Field(default=None, strict=True, description="Percent off (1–100).")
    valid_for: str = Field(default="30d", description="The coupon expires this long after issue.")
    min_spend: int | None = Field(
        default=None, strict=True, ge=0, description="Minimum order value in minor units."
    )
    prefix: str = Field(
        default="C", description="Code prefix: 1–8 capital letters or digits (VIP → VIP4821937265)."
    )

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("amount must be a positive value in minor units (5000 = ¥50)")
        return value

    @field_validator("percent")
    @classmethod
    def _percent(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 100:
            raise ValueError("percent must be between 1 and 100")
        return value

    @field_validator("valid_for")
    @classmethod
    def _valid_for(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("valid_for must be longer than zero")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]{1,8}", value):
            raise ValueError("the prefix must be 1–8 capital letters or digits")
        return value


class ExpirePointsParams(ActionParams):
    """``expire_points`` takes no arguments."""


def nullable(value: Any, type_: Any) -> Any:
    """A typed constant, or a typed NULL (PostgreSQL cannot guess the type of a bare NULL)."""
    return cast(null(), type_) if value is None else literal(value, type_)


def _tier_permille(ctx: EffectContext, params: GrantPointsParams, customer_id: Any) -> Any:
    if not params.tier_multiplier:
        return integer(PERMILLE)
    f = ctx.features
    tier = select(f.c.tier).where(f.c.customer_id == customer_id).scalar_subquery()
    whens = [
        (tier == name, integer(round(factor * PERMILLE)))
        for name, factor in params.tier_multiplier.items()
    ]
    return case(*whens, else_=integer(PERMILLE))


def _credit_events(ctx: EffectContext, event_type: str) -> None:
    """Mark the firings' customers' unpaid events of ``event_type`` as paid by their firing."""
    firing = ctx.firings.subquery("firing")
    paid = probe(credits.c.event_id == ev.c.id)
    rows = (
        select(
            ev.c.id.label("event_id"),
            firing.c.ledger_id,
            firing.c.customer_id,
            literal(ctx.as_of).label("credited_at"),
        )
        .select_from(firing.join(ev, ev.c.customer_id == firing.c.customer_id))
        .where(
            ev.c.type == event_type,
            ev.c.occurred_at <= ctx.as_of,
            ev.c.occurred_at > ctx.as_of - UNREWARDED_WINDOW_DAYS * DAY,
            ~paid,
        )
    )
    statement = (
        upsert(ctx.conn, credits)
        .from_select([c.name for c in rows.selected_columns], rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    ctx.conn.execute(statement)


def apply_grant_points(ctx: EffectContext) -> int:
    """Insert one ``loyalty_points`` grant per firing (none when it comes to 0 points)."""
    params: GrantPointsParams = ctx.params
    firing = ctx.firings.subquery("firing")
    multiplier = _tier_permille(ctx, params, firing.c.customer_id)
    expires = parse_duration(params.expires_after) if params.expires_after else None
    if params.per_amount is None and params.per_event is None:
        amount = int_div(integer(params.points) * multiplier, integer(PERMILLE))
        source = select(firing.c.ledger_id, firing.c.customer_id, amount.label("points"))
    else:
        event_type = params.per_event or "purchase"
        _credit_events(ctx, event_type)
        paid = (
            select(
                credits.c.ledger_id,
                # an integer on both dialects (PostgreSQL sums BIGINT as NUMERIC)
                cast(func.sum(func.coalesce(ev.c.amount, 0)), BigInteger()).label("spend"),
                func.count().label("events"),
            )
            .select_from(credits.join(ev, ev.c.id == credits.c.event_id))
            .where(credits.c.ledger_id.in_(select(firing.c.ledger_id)))
            .group_by(credits.c.ledger_id)
            .subquery("paid")
        )
        if params.per_amount is not None:
            base = paid.c.spend * integer(params.points) * multiplier
            amount = int_div(base, integer(params.per_amount * PERMILLE))
        else:
            amount = int_div(paid.c.events * integer(params.points) * multiplier, integer(PERMILLE))
        source = select(
            firing.c.ledger_id, firing.c.customer_id, amount.label("points")
        ).select_from(firing.join(paid, paid.c.ledger_id == firing.c.ledger_id))
    grants = source.subquery("grants")
    rows = select(
        grants.c.ledger_id,
        grants.c.customer_id,
        literal("grant").label("kind"),
        grants.c.points,
        literal(ctx.as_of).label("created_at"),
        nullable(None if expires is None else ctx.as_of + expires, BigInteger()).label(
            "expires_at"
        ),
        literal(ctx.rule_id).label("rule_id"),
        nullable(params.reason or None, String()).label("reason"),
    ).where(grants.c.points > 0)
    return _insert_points(ctx, rows)


def apply_expire_points(ctx: EffectContext) -> int:
    """Write off, per firing, the customer's points past their expiry (FIFO by expiry)."""
    firing = ctx.firings.subquery("firing")
    # Only the firing customers' points are ranked (not the whole base's, per firing).
    fired = select(firing.c.customer_id)
    position = points_position(ctx.as_of, lambda customer_id: customer_id.in_(fired)).subquery(
        "position"
    )
    rows = (
        select(
            firing.c.ledger_id,
            firing.c.customer_id,
            literal("expire").label("kind"),
            (-position.c.points_overdue).label("points"),
            literal(ctx.as_of).label("created_at"),
            nullable(None, BigInteger()).label("expires_at"),
            literal(ctx.rule_id).label("rule_id"),
            literal("expired", String()).label("reason"),
        )
        .select_from(firing.join(position, position.c.customer_id == firing.c.customer_id))
        .where(position.c.points_overdue > 0)
    )
    return _insert_points(ctx, rows)


def _insert_points(ctx: EffectContext, rows: Any) -> int:
    statement = (
        upsert(ctx.conn, points)
        .from_select([c.name for c in rows.selected_columns], rows)
        .on_conflict_do_nothing(index_elements=["ledger_id"])
    )
    result = ctx.conn.execute(statement, execution_options={"preserve_rowcount": True})
    return int(result.rowcount or 0)


def coupon_code(prefix: str, ledger_id: int) -> str:
    """The code of the coupon issued by ledger row ``ledger_id`` (the Python twin of the SQL)."""
    return f"{prefix}{(ledger_id * CODE_MULTIPLIER) % CODE_PRIME:010d}"


def apply_issue_coupon(ctx: EffectContext) -> int:
    """Insert one coupon per firing, with a code derived from its ledger id."""
    params: IssueCouponParams = ctx.params
    firing = ctx.firings.subquery("firing")
    scrambled = (firing.c.ledger_id * integer(CODE_MULTIPLIER)) % integer(CODE_PRIME)
    digits = func.substr(cast(scrambled + integer(10_000_000_000), String), 2)
    rows = select(
        firing.c.ledger_id,
        (literal(params.prefix) + digits).label("code"),
        firing.c.customer_id,
        literal(ctx.rule_id).label("rule_id"),
        nullable(params.amount, BigInteger()).label("amount"),
        nullable(params.percent, Integer()).label("percent"),
        nullable(params.min_spend, BigInteger()).label("min_spend"),
        literal(ctx.as_of).label("issued_at"),
        literal(ctx.as_of + parse_duration(params.valid_for)).label("expires_at"),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    statement = (
        upsert(ctx.conn, coupons)
        .from_select([c.name for c in rows.selected_columns], rows)
        .on_conflict_do_nothing(index_elements=["ledger_id"])
    )
    result = ctx.conn.execute(statement, execution_options={"preserve_rowcount": True})
    return int(result.rowcount or 0)


def check_grant(params: Any, env: CheckEnv) -> list[tuple[str, str]]:
    """One basis at most; ``per_event`` must name a registered event type."""
    if params.per_amount is not None and params.per_event is not None:
        return [("per_event", "give per_amount or per_event, not both")]
    registry = getattr(env, "registry", None)
    if params.per_event is None or registry is None:
        return []
    known = registry.event_types.names()
    if params.per_event in known:
        return []
    return [
        (
            "per_event",
            f"unknown event type '{params.per_event}'{did_you_mean(params.per_event, known)}",
        )
    ]


def check_coupon(params: Any, env: CheckEnv) -> list[tuple[str, str]]:
    """Exactly one of ``amount`` and ``percent``."""
    if params.amount is not None and params.percent is not None:
        return [
            ("percent", "give either amount (minor units off) or percent (percent off), not both")
        ]
    if params.amount is None and params.percent is None:
        return [("amount", "missing key: give amount (minor units off) or percent (percent off)")]
    return []


def grant_reads(params: GrantPointsParams) -> tuple[str, ...]:
    """A grant reads the feature table only to scale by tier."""
    return ("tier",) if params.tier_multiplier else ()


def reads_nothing(_params: object) -> tuple[str, ...]:
    return ()


GRANT_POINTS = ActionType(
    name="grant_points",
    params=GrantPointsParams,
    description="Grant loyalty points: a fixed number, per amount spent or per event, "
    "multiplied by tier; they expire after 'expires_after' (FIFO).",
    kind=ActionKind.EFFECT,
    example="grant_points: {points: 1, per_amount: 100, tier_multiplier: {vip: 2}}\n"
    "grant_points: {points: 200, reason: birthday}",
    check=check_grant,
    apply=apply_grant_points,
    reads=grant_reads,
)
ISSUE_COUPON = ActionType(
    name="issue_coupon",
    params=IssueCouponParams,
    description="Issue a coupon with a unique code: a fixed amount or a percentage off, "
    "valid for a while; redeemed by a coupon_redeemed event naming the code.",
    kind=ActionKind.EFFECT,
    example="issue_coupon: {percent: 10, valid_for: 7d}\n"
    "issue_coupon: {amount: 5000, min_spend: 20000, valid_for: 30d, prefix: VIP}",
    check=check_coupon,
    apply=apply_issue_coupon,
    reads=reads_nothing,
)
EXPIRE_POINTS = ActionType(
    name="expire_points",
    params=ExpirePointsParams,
    description="Write off the points past their expiry (the ones redeemed last expire "
    "first: FIFO by expiry) into the points ledger.",
    kind=ActionKind.EFFECT,
    example="expire_points: {}",
    apply=apply_expire_points,
    reads=reads_nothing,
)

__all__ = [
    "EXPIRE_POINTS",
    "GRANT_POINTS",
    "ISSUE_COUPON",
    "GrantPointsParams",
    "IssueCouponParams",
    "coupon_code",
]
