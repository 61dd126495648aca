"""Churn warning signals (SEEDS §3.1) as features, set-based as of the cycle's instant.

Falling purchase frequency and spend, inactivity measured against the customer's own
rhythm, a falling satisfaction score and contacts nobody answered. Complaints in the
last 90 days are a core feature already (``complaints_90d``).

Each set is one flat GROUP BY over the events of one kind, so computing a few
customers' features (``feature_rows``) reads only their events, through the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Float, Select, and_, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from core.aggregates import count_if, max_if, min_if, sum_if
from core.builtin.features import days_between
from core.store.tables import Customer, Event, table_of
from core.vocabulary import Feature, FeatureContext, FeatureType, Keeping

DAY = 86400
WINDOW_DAYS = 90
N = FeatureType.NUMBER

ev = table_of(Event)
cu = table_of(Customer)


def decline(recent: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[Any]:
    """1 - recent / earlier when the earlier period had any, else NULL (0.5 = halved)."""
    result: ColumnElement[Any] = case(
        (earlier > 0, 1.0 - cast(recent, Float) / cast(earlier, Float)), else_=None
    )
    return result


class PurchaseSignals:
    """Purchase rhythm and the last 90 days against the 90 before."""

    name = "churn_purchase_signals"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    # Kept between cycles; recency_ratio, which ages by a ratio, is churn_risk's.
    keeping = Keeping(
        event_types=("purchase", "refund"), windows_days=(WINDOW_DAYS, 2 * WINDOW_DAYS)
    )
    features: Sequence[Feature] = (
        Feature(
            "typical_purchase_gap_days",
            N,
            "The customer's average days between purchases: (last - first) / (purchases - 1); "
            "null with fewer than two purchases.",
            "days",
        ),
        Feature(
            "purchase_count_prev_90d",
            N,
            "Purchases in the 90 days before the last 90 (days 91–180 ago).",
            "purchases",
            0,
        ),
        Feature(
            "spend_prev_90d",
            N,
            "Purchase value minus refunds in the 90 days before the last 90.",
            "minor units",
            0,
        ),
        Feature(
            "purchase_decline_90d",
            N,
            "1 - purchase_count_90d / purchase_count_prev_90d: 0.5 means half as many purchases "
            "as the period before, negative means growth (null if none before).",
            "ratio",
        ),
        Feature(
            "spend_decline_90d",
            N,
            "1 - spend_90d / spend_prev_90d (null unless the period before had spend).",
            "ratio",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        as_of, window = ctx.as_of, WINDOW_DAYS * DAY
        is_purchase = ev.c.type == "purchase"
        amount = func.coalesce(ev.c.amount, 0)
        signed = case((ev.c.type == "refund", -amount), else_=amount)
        recent = ev.c.occurred_at > as_of - window
        earlier = and_(ev.c.occurred_at > as_of - 2 * window, ev.c.occurred_at <= as_of - window)
        first = min_if(is_purchase, ev.c.occurred_at)
        last = max_if(is_purchase, ev.c.occurred_at)
        gap = days_between(last, first) / func.nullif(count_if(is_purchase) - 1, 0)
        count_earlier = count_if(and_(is_purchase, earlier))
        spend_earlier = sum_if(earlier, signed)
        return (
            select(
                ev.c.customer_id,
                gap.label("typical_purchase_gap_days"),
                count_earlier.label("purchase_count_prev_90d"),
                spend_earlier.label("spend_prev_90d"),
                decline(count_if(and_(is_purchase, recent)), count_earlier).label(
                    "purchase_decline_90d"
                ),
                decline(sum_if(recent, signed), spend_earlier).label("spend_decline_90d"),
            )
            .where(ev.c.occurred_at <= as_of, ev.c.type.in_(["purchase", "refund"]))
            .group_by(ev.c.customer_id)
        )


class SurveySignals:
    """Whether satisfaction is falling: the latest survey score against the one before."""

    name = "churn_survey_signals"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    keeping = Keeping(event_types=("survey",))
    features: Sequence[Feature] = (
        Feature(
            "survey_trend",
            N,
            "Latest survey score minus the one before (negative: falling; null with fewer "
            "than two surveys).",
            "points",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        other = ev.alias("survey")

        def score(skip: int) -> Any:
            return (
                select(other.c.value)
                .where(
                    other.c.customer_id == ev.c.customer_id,
                    other.c.type == "survey",
                    other.c.occurred_at <= ctx.as_of,
                    other.c.value.is_not(None),
                )
                .order_by(other.c.occurred_at.desc(), other.c.id.desc())
                .limit(1)
                .offset(skip)
                .scalar_subquery()
            )

        return (
            select(ev.c.customer_id, (score(0) - score(1)).label("survey_trend"))
            .where(ev.c.occurred_at <= ctx.as_of, ev.c.type == "survey")
            .group_by(ev.c.customer_id)
        )


class ContactSignals:
    """Contacts the customer has not answered."""

    name = "churn_contact_signals"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    keeping = Keeping(
        event_types=("contact", "contact_replied"), aging=("days_since_unanswered_contact",)
    )
    features: Sequence[Feature] = (
        Feature(
            "days_since_unanswered_contact",
            N,
            "Days since the oldest contact the customer has not replied to (no "
            "contact_replied after it); null when every contact was answered.",
            "days",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        reply = ev.alias("reply")
        replied_at = (
            select(func.max(reply.c.occurred_at))
            .where(
                reply.c.customer_id == ev.c.customer_id,
                reply.c.type == "contact_replied",
                reply.c.occurred_at <= ctx.as_of,
            )
            .scalar_subquery()
        )
        waiting_since = func.min(ev.c.occurred_at)
        return (
            select(
                ev.c.customer_id,
                days_between(literal(ctx.as_of), waiting_since).label(
                    "days_since_unanswered_contact"
                ),
            )
            .where(
                ev.c.occurred_at <= ctx.as_of,
                ev.c.type == "contact",
                ev.c.occurred_at > func.coalesce(replied_at, -1),
            )
            .group_by(ev.c.customer_id)
        )


SIGNAL_SETS = (PurchaseSignals, SurveySignals, ContactSignals)

__all__ = ["SIGNAL_SETS", "ContactSignals", "PurchaseSignals", "SurveySignals", "decline"]
