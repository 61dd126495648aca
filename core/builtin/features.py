"""The core features: purchase history, profile and care occasions, service and contact.

All are computed set-based as of the cycle's instant ``ctx.as_of`` (epoch seconds):
events after that instant do not exist yet. Day counts are real numbers of days
(``days_since_last_purchase >= 90``); money is integer minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from core.aggregates import count_if, max_if, min_if, sum_if
from core.birthdays import birthday_calendar_table, fill_birthday_calendar
from core.config import Settings
from core.hookspecs import hookimpl
from core.store.tables import Customer, Event, table_of
from core.vocabulary import Feature, FeatureContext, FeatureSet, FeatureType, Keeping

DAY = 86400
N, S, B = FeatureType.NUMBER, FeatureType.STRING, FeatureType.BOOLEAN

ev = table_of(Event)
cu = table_of(Customer)


def days_between(later: Any, earlier: ColumnElement[Any]) -> ColumnElement[Any]:
    """Real number of days between two epoch-second values."""
    days: ColumnElement[Any] = (later - earlier) / literal(float(DAY))
    return days


class PurchaseFeatures:
    """Recency, frequency and monetary value from purchase and refund events (one scan)."""

    name = "purchases"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    keeping = Keeping(
        event_types=("purchase", "refund"),
        windows_days=(90, 365),
        aging=("days_since_last_purchase", "days_since_first_purchase"),
    )
    features: Sequence[Feature] = (
        Feature(
            "days_since_last_purchase", N, "Days since the latest purchase (null if none).", "days"
        ),
        Feature(
            "days_since_first_purchase", N, "Days since the first purchase (null if none).", "days"
        ),
        Feature("purchase_count", N, "Purchases ever.", "purchases", 0),
        Feature("purchase_count_90d", N, "Purchases in the last 90 days.", "purchases", 0),
        Feature("purchase_count_365d", N, "Purchases in the last 365 days.", "purchases", 0),
        Feature("spend_total", N, "Purchase value minus refunds, ever.", "minor units", 0),
        Feature(
            "spend_90d", N, "Purchase value minus refunds in the last 90 days.", "minor units", 0
        ),
        Feature(
            "spend_365d", N, "Purchase value minus refunds in the last 365 days.", "minor units", 0
        ),
        Feature(
            "average_order_value",
            N,
            "Purchase value ever / purchase count (null if none).",
            "minor units",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        as_of = literal(ctx.as_of)
        is_purchase = ev.c.type == "purchase"
        is_refund = ev.c.type == "refund"
        amount = func.coalesce(ev.c.amount, 0)
        signed = case((is_refund, -amount), else_=amount)
        money = ev.c.type.in_(["purchase", "refund"])
        in_90 = ev.c.occurred_at > ctx.as_of - 90 * DAY
        in_365 = ev.c.occurred_at > ctx.as_of - 365 * DAY
        last = max_if(is_purchase, ev.c.occurred_at)
        first = min_if(is_purchase, ev.c.occurred_at)
        count = count_if(is_purchase)
        gross = sum_if(is_purchase, amount)
        return (
            select(
                ev.c.customer_id.label("customer_id"),
                days_between(as_of, last).label("days_since_last_purchase"),
                days_between(as_of, first).label("days_since_first_purchase"),
                count.label("purchase_count"),
                count_if(and_(is_purchase, in_90)).label("purchase_count_90d"),
                count_if(and_(is_purchase, in_365)).label("purchase_count_365d"),
                sum_if(money, signed).label("spend_total"),
                sum_if(and_(money, in_90), signed).label("spend_90d"),
                sum_if(and_(money, in_365), signed).label("spend_365d"),
                (gross / func.nullif(count, 0)).label("average_order_value"),
            )
            .where(ev.c.occurred_at <= ctx.as_of, money)
            .group_by(ev.c.customer_id)
        )


class ProfileFeatures:
    """What the customer record says: tenure, birthday, locale and reachability."""

    name = "profile"
    parallel_safe = True  # prepare fills a TEMP calendar only this SELECT reads
    features: Sequence[Feature] = (
        Feature(
            "tenure_days",
            N,
            "Days since the customer joined (first purchase if no join date).",
            "days",
        ),
        Feature(
            "days_until_birthday",
            N,
            "Days until the next birthday in the customer's own time zone; 0 on the day. "
            "A 29 February birthday is celebrated on 28 February in other years.",
            "days",
        ),
        Feature("locale", S, "The customer's locale, e.g. zh-CN or en (the default if unset)."),
        Feature("has_email", B, "The customer has an e-mail address."),
        Feature("has_phone", B, "The customer has a phone number."),
        Feature("has_account_manager", B, "An account manager is assigned."),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        fill_birthday_calendar(conn, ctx)

    def select(self, ctx: FeatureContext) -> Select[Any]:
        cal = birthday_calendar_table()
        first_purchase = (
            select(func.min(ev.c.occurred_at))
            .where(
                ev.c.customer_id == cu.c.id, ev.c.type == "purchase", ev.c.occurred_at <= ctx.as_of
            )
            .scalar_subquery()
        )
        joined = func.coalesce(cu.c.joined_at, first_purchase)
        zone = func.coalesce(cu.c.timezone, ctx.settings.timezone)
        return select(
            cu.c.id.label("customer_id"),
            days_between(literal(ctx.as_of), joined).label("tenure_days"),
            cal.c.days_until.label("days_until_birthday"),
            func.coalesce(cu.c.locale, ctx.settings.default_locale).label("locale"),
            (func.coalesce(cu.c.email, "") != "").label("has_email"),
            (func.coalesce(cu.c.phone, "") != "").label("has_phone"),
            (func.coalesce(cu.c.account_manager, "") != "").label("has_account_manager"),
        ).select_from(
            cu.outerjoin(
                cal,
                and_(
                    cal.c.zone == zone,
                    cal.c.birth_month == cu.c.birth_month,
                    cal.c.birth_day == cu.c.birth_day,
                ),
            )
        )


class ServiceFeatures:
    """Complaints, surveys and contacts."""

    name = "service"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    keeping = Keeping(
        event_types=(
            "complaint_opened",
            "complaint_reopened",
            "complaint_resolved",
            "survey",
            "contact",
        ),
        windows_days=(90,),
        aging=("days_since_last_resolution", "days_since_last_survey", "days_since_last_contact"),
    )
    features: Sequence[Feature] = (
        Feature(
            "open_complaints",
            N,
            "Complaints opened (or reopened) and not resolved since.",
            "tickets",
            0,
        ),
        Feature("complaints_90d", N, "Complaints opened in the last 90 days.", "tickets", 0),
        Feature(
            "days_since_last_resolution",
            N,
            "Days since a complaint was last resolved (null if never).",
            "days",
        ),
        Feature(
            "last_survey_score", N, "Score of the latest satisfaction survey (null if none).", "1–5"
        ),
        Feature(
            "days_since_last_survey",
            N,
            "Days since the latest survey answer (null if none).",
            "days",
        ),
        Feature(
            "days_since_last_contact",
            N,
            "Days since the company last contacted the customer.",
            "days",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        as_of = ctx.as_of
        # Each aggregation is nested: the customers being computed are chosen inside.
        known = and_(ev.c.occurred_at <= as_of, ctx.limit_to(ev.c.customer_id))
        opened = ev.c.type.in_(["complaint_opened", "complaint_reopened"])
        tickets = (
            select(
                ev.c.customer_id,
                ev.c.ref,
                max_if(opened, ev.c.occurred_at).label("opened_at"),
                max_if(ev.c.type == "complaint_resolved", ev.c.occurred_at).label("resolved_at"),
                count_if(
                    and_(ev.c.type == "complaint_opened", ev.c.occurred_at > as_of - 90 * DAY)
                ).label("recent"),
            )
            .where(
                known,
                ev.c.type.in_(["complaint_opened", "complaint_reopened", "complaint_resolved"]),
            )
            .group_by(ev.c.customer_id, ev.c.ref)
            .subquery("tickets")
        )
        is_open = and_(
            tickets.c.opened_at.is_not(None),
            (tickets.c.resolved_at.is_(None)) | (tickets.c.resolved_at < tickets.c.opened_at),
        )
        complaints = (
            select(
                tickets.c.customer_id,
                count_if(is_open).label("open_complaints"),
                func.sum(tickets.c.recent).label("complaints_90d"),
                func.max(tickets.c.resolved_at).label("last_resolved_at"),
            )
            .group_by(tickets.c.customer_id)
            .subquery("complaints")
        )
        ranked = (
            select(
                ev.c.customer_id,
                ev.c.value,
                ev.c.occurred_at,
                func.row_number()
                .over(
                    partition_by=ev.c.customer_id,
                    order_by=(ev.c.occurred_at.desc(), ev.c.id.desc()),
                )
                .label("rank"),
            )
            .where(known, ev.c.type == "survey")
            .subquery("surveys")
        )
        # One row per customer already (rank 1), and grouped by customer all the same:
        # SQLite then indexes it for the join below, as it does the other two parts. As
        # a plain subquery it was scanned in full for each customer computed (its row
        # count taken for tiny), quadratic in them: a kept set's update of 10k customers
        # with surveys took 25 s, of 100k it would take most of an hour.
        last_survey = (
            select(
                ranked.c.customer_id,
                func.max(ranked.c.value).label("value"),
                func.max(ranked.c.occurred_at).label("occurred_at"),
            )
            .where(ranked.c.rank == 1)
            .group_by(ranked.c.customer_id)
            .subquery("last_survey")
        )
        contacts = (
            select(ev.c.customer_id, func.max(ev.c.occurred_at).label("at"))
            .where(known, ev.c.type == "contact")
            .group_by(ev.c.customer_id)
            .subquery("contacts")
        )
        return select(
            cu.c.id.label("customer_id"),
            complaints.c.open_complaints,
            complaints.c.complaints_90d,
            days_between(literal(as_of), complaints.c.last_resolved_at).label(
                "days_since_last_resolution"
            ),
            last_survey.c.value.label("last_survey_score"),
            days_between(literal(as_of), last_survey.c.occurred_at).label("days_since_last_survey"),
            days_between(literal(as_of), contacts.c.at).label("days_since_last_contact"),
        ).select_from(
            cu.outerjoin(complaints, complaints.c.customer_id == cu.c.id)
            .outerjoin(last_survey, last_survey.c.customer_id == cu.c.id)
            .outerjoin(contacts, contacts.c.customer_id == cu.c.id)
        )


@hookimpl
def patron_feature_sets(settings: Settings) -> list[FeatureSet]:
    return [PurchaseFeatures(), ProfileFeatures(), ServiceFeatures()]
