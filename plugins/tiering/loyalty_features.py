"""Points, coupons and not-yet-rewarded events as features, as of any instant.

**Points** are granted by ``grant_points`` (each grant with an expiry instant) and
redeemed by ``points_redeemed`` events (``value`` = points). Redemptions use up the
points that expire first (FIFO by expiry). Points still unused at their expiry instant
expire, whether or not an ``expire_points`` rule has written them off yet, so the balance
is right at every instant. With ``G(e)`` the points of grants expiring at or before
``e`` and ``R(e)`` the points redeemed before ``e``, the points expired by ``T`` are
``max(0, max over expiry instants e <= T of G(e) - R(e))`` — one window pass over a
timeline of expiries and redemptions per customer.

**Coupons** are open from their issue until they expire or a ``coupon_redeemed`` event
names their code (``ref``).

**Unrewarded** events are purchases, referrals and surveys of the last
UNREWARDED_WINDOW_DAYS days that no points grant has paid for yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    case,
    func,
    literal,
    select,
    union_all,
)

from core.aggregates import count_if, sum_if
from core.builtin.features import days_between
from core.sql_exists import probe
from core.store.tables import Event, table_of
from core.vocabulary import Feature, FeatureContext, FeatureType
from plugins.tiering.sql import integer, positive_part
from plugins.tiering.tables import coupons, credits, points

DAY = 86400
EXPIRING_SOON_DAYS = 30
UNREWARDED_WINDOW_DAYS = 30
ev = table_of(Event)
N, S = FeatureType.NUMBER, FeatureType.STRING


# Which customers a query computes, as a condition on a customer id column: the set's
# ``FeatureContext.limit_to`` (true for the whole base). Each query below ranks or sums
# per customer in nested subqueries, where a filter on its result cannot reach the
# scans: a few customers' features (explain, delivery) read every points row and the
# whole events index without it.
Mine = Callable[[Any], Any]


def _redemptions(as_of: int, mine: Mine) -> Any:
    # "+ 0": SQLite would otherwise range-scan the time index over nearly every event and
    # look each row up; a scan of the (customer, type, time) index is ~15x faster.
    return and_(
        ev.c.type == "points_redeemed",
        ev.c.occurred_at + 0 <= as_of,
        ev.c.value > 0,
        mine(ev.c.customer_id),
    )


def expired_points(as_of: int, mine: Mine) -> Any:
    """Per customer: points expired by ``as_of`` and by 30 days later (if none is redeemed)."""
    soon = as_of + EXPIRING_SOON_DAYS * DAY
    timeline = union_all(
        select(
            points.c.customer_id,
            points.c.expires_at.label("t"),
            integer(0).label("kind"),
            points.c.points.label("granted"),
            integer(0).label("redeemed"),
        ).where(
            points.c.kind == "grant",
            points.c.created_at <= as_of,
            points.c.expires_at.is_not(None),
            points.c.expires_at <= soon,
            mine(points.c.customer_id),
        ),
        select(
            ev.c.customer_id,
            ev.c.occurred_at.label("t"),
            integer(1).label("kind"),
            integer(0).label("granted"),
            ev.c.value.label("redeemed"),
        ).where(_redemptions(as_of, mine)),
    ).subquery("points_timeline")
    order = (timeline.c.t, timeline.c.kind)
    running = select(
        timeline.c.customer_id,
        timeline.c.t,
        timeline.c.kind,
        (
            func.sum(timeline.c.granted).over(
                partition_by=timeline.c.customer_id, order_by=order, rows=(None, 0)
            )
            - func.sum(timeline.c.redeemed).over(
                partition_by=timeline.c.customer_id, order_by=order, rows=(None, 0)
            )
        ).label("unused"),
    ).subquery("points_running")
    at_expiry = running.c.kind == 0
    return (
        select(
            running.c.customer_id,
            positive_part(
                func.max(case((and_(at_expiry, running.c.t <= as_of), running.c.unused)))
            ).label("expired_now"),
            positive_part(func.max(case((at_expiry, running.c.unused)))).label("expired_soon"),
        )
        .group_by(running.c.customer_id)
        .subquery("points_expired")
    )


def points_position(as_of: int, mine: Mine) -> Select[Any]:
    """Per customer with points: balance, expiring in 30 days, and expired but not written off."""
    expired = expired_points(as_of, mine)
    zero = integer(0)
    parts = union_all(
        select(
            points.c.customer_id,
            case((points.c.kind == "grant", points.c.points), else_=zero).label("granted"),
            zero.label("redeemed"),
            case((points.c.kind == "expire", -points.c.points), else_=zero).label("written_off"),
            zero.label("expired_now"),
            zero.label("expired_soon"),
        ).where(points.c.created_at <= as_of, mine(points.c.customer_id)),
        select(ev.c.customer_id, zero, ev.c.value, zero, zero, zero).where(
            _redemptions(as_of, mine)
        ),
        select(
            expired.c.customer_id, zero, zero, zero, expired.c.expired_now, expired.c.expired_soon
        ),
    ).subquery("points_parts")
    p = parts.c
    expired_now = func.sum(p.expired_now)
    return select(
        p.customer_id,
        (func.sum(p.granted) - func.sum(p.redeemed) - expired_now).label("points_balance"),
        (func.sum(p.expired_soon) - expired_now).label("points_expiring_30d"),
        positive_part(expired_now - func.sum(p.written_off)).label("points_overdue"),
    ).group_by(p.customer_id)


def open_coupons(as_of: int, mine: Mine) -> Any:
    """Coupons issued by ``as_of``, not expired and not redeemed by then."""
    redeemed = probe(
        ev.c.customer_id == coupons.c.customer_id,
        ev.c.type == "coupon_redeemed",
        ev.c.ref == coupons.c.code,
        ev.c.occurred_at <= as_of,
    )
    return (
        select(coupons)
        .where(
            coupons.c.issued_at <= as_of,
            coupons.c.expires_at > as_of,
            ~redeemed,
            mine(coupons.c.customer_id),
        )
        .subquery("open_coupons")
    )


def coupon_select(as_of: int, mine: Mine) -> Select[Any]:
    """Per customer with open coupons: how many, and the newest one's code and value."""
    open_ = open_coupons(as_of, mine)
    ranked = select(
        open_.c.customer_id,
        open_.c.code,
        open_.c.amount,
        open_.c.percent,
        open_.c.expires_at,
        func.row_number()
        .over(
            partition_by=open_.c.customer_id, order_by=(open_.c.issued_at.desc(), open_.c.id.desc())
        )
        .label("newest"),
        func.count().over(partition_by=open_.c.customer_id).label("open_count"),
    ).subquery("ranked_coupons")
    return select(
        ranked.c.customer_id,
        ranked.c.open_count.label("open_coupons"),
        ranked.c.code.label("coupon_code"),
        ranked.c.amount.label("coupon_amount"),
        ranked.c.percent.label("coupon_percent"),
        days_between(ranked.c.expires_at, literal(as_of)).label("coupon_days_left"),
    ).where(ranked.c.newest == 1)


def unrewarded_select(as_of: int) -> Select[Any]:
    """Per customer: purchases, referrals and surveys of the window no grant paid for yet."""
    paid = probe(credits.c.event_id == ev.c.id, credits.c.credited_at <= as_of)
    return (
        select(
            ev.c.customer_id,
            sum_if(ev.c.type == "purchase", func.coalesce(ev.c.amount, 0)).label(
                "unrewarded_spend"
            ),
            count_if(ev.c.type == "referral").label("unrewarded_referrals"),
            count_if(ev.c.type == "survey").label("unrewarded_surveys"),
        )
        .where(
            ev.c.occurred_at <= as_of,
            ev.c.occurred_at > as_of - UNREWARDED_WINDOW_DAYS * DAY,
            ev.c.type.in_(["purchase", "referral", "survey"]),
            ~paid,
        )
        .group_by(ev.c.customer_id)
    )


def last_grant_select(as_of: int, mine: Mine) -> Select[Any]:
    ranked = (
        select(
            points.c.customer_id,
            points.c.points,
            func.row_number()
            .over(
                partition_by=points.c.customer_id,
                order_by=(points.c.created_at.desc(), points.c.id.desc()),
            )
            .label("newest"),
        )
        .where(points.c.kind == "grant", points.c.created_at <= as_of, mine(points.c.customer_id))
        .subquery("ranked_grants")
    )
    return select(ranked.c.customer_id, ranked.c.points.label("points_last_granted")).where(
        ranked.c.newest == 1
    )


class _Static:
    """A feature set without preparation."""

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None


class PointsFeatures(_Static):
    """points_balance, points_expiring_30d, points_overdue, points_last_granted."""

    name = "points"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    features: Sequence[Feature] = (
        Feature("points_balance", N, "Loyalty points available now.", "points", 0),
        Feature(
            "points_expiring_30d",
            N,
            f"Points that expire in the next {EXPIRING_SOON_DAYS} days unless redeemed.",
            "points",
            0,
        ),
        Feature(
            "points_overdue",
            N,
            "Points past their expiry that no expire_points action has written off yet.",
            "points",
            0,
        ),
        Feature(
            "points_last_granted",
            N,
            "Points of the latest grant (null if none); of several grants in one cycle, the "
            "one of the rule evaluated last.",
            "points",
        ),
    )

    def select(self, ctx: FeatureContext) -> Select[Any]:
        position = points_position(ctx.as_of, ctx.limit_to).subquery("points_position")
        last = last_grant_select(ctx.as_of, ctx.limit_to).subquery("last_grant")
        return select(
            position.c.customer_id,
            position.c.points_balance,
            position.c.points_expiring_30d,
            position.c.points_overdue,
            last.c.points_last_granted,
        ).select_from(position.outerjoin(last, last.c.customer_id == position.c.customer_id))


class CouponFeatures(_Static):
    """open_coupons and the newest open coupon (for templates)."""

    name = "coupons"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    features: Sequence[Feature] = (
        Feature("open_coupons", N, "Coupons issued, not expired and not redeemed.", "coupons", 0),
        Feature("coupon_code", S, "Code of the newest open coupon (null if none)."),
        Feature("coupon_amount", N, "Its value off, if a fixed amount.", "minor units"),
        Feature("coupon_percent", N, "Its percentage off, if a percentage.", "percent"),
        Feature("coupon_days_left", N, "Days until it expires.", "days"),
    )

    def select(self, ctx: FeatureContext) -> Select[Any]:
        return coupon_select(ctx.as_of, ctx.limit_to)


class UnrewardedFeatures(_Static):
    """Events of the last 30 days that no points grant has paid for yet."""

    name = "unrewarded"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    features: Sequence[Feature] = (
        Feature(
            "unrewarded_spend",
            N,
            f"Value of purchases of the last {UNREWARDED_WINDOW_DAYS} days no points grant paid for.",
            "minor units",
            0,
        ),
        Feature(
            "unrewarded_referrals",
            N,
            f"Referrals of the last {UNREWARDED_WINDOW_DAYS} days no points grant paid for.",
            "referrals",
            0,
        ),
        Feature(
            "unrewarded_surveys",
            N,
            f"Surveys answered in the last {UNREWARDED_WINDOW_DAYS} days no points grant paid for.",
            "surveys",
            0,
        ),
    )

    def select(self, ctx: FeatureContext) -> Select[Any]:
        return unrewarded_select(ctx.as_of)


__all__ = [
    "EXPIRING_SOON_DAYS",
    "UNREWARDED_WINDOW_DAYS",
    "CouponFeatures",
    "PointsFeatures",
    "UnrewardedFeatures",
    "points_position",
]
