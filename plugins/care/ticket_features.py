"""Per-customer features of complaint tickets and their SLAs, read from ``care_tickets``.

The SLA stage keeps ``care_tickets`` current in every cycle and then refreshes these
columns of the cycle's feature table, so rules see this cycle's state; templates and
``explain`` see the state as of the latest cycle. "The ticket" below is the customer's
most urgent open ticket: the highest escalation level, then the nearest deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.aggregates import count_if
from core.vocabulary import Feature, FeatureContext, FeatureType
from plugins.care.tickets import care_tickets

N, S, B = FeatureType.NUMBER, FeatureType.STRING, FeatureType.BOOLEAN
HOUR = 3600.0


def _hours(later: Any, earlier: Any) -> ColumnElement[Any]:
    hours: ColumnElement[Any] = (later - earlier) / literal(HOUR)
    return hours


class TicketFeatures:
    """Open tickets, deadlines, breaches and escalation levels per customer."""

    name = "care_tickets"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    features: Sequence[Feature] = (
        Feature(
            "overdue_tickets",
            N,
            "Open tickets past their response or resolution deadline.",
            "tickets",
            0,
        ),
        Feature(
            "ticket_escalation_level",
            N,
            "Highest escalation level reached by an open ticket (0: none).",
            "level",
            0,
        ),
        Feature("ticket_ref", S, "The most urgent open ticket's id (null if none open)."),
        Feature("ticket_severity", S, "Its severity: normal, major, complex ..."),
        Feature("ticket_topic", S, "Its topic: account_security, payment, product_fault ..."),
        Feature("ticket_channel", S, "The channel it came in on: email, phone ..."),
        Feature("ticket_hours_open", N, "Hours since it was first opened.", "hours"),
        Feature(
            "ticket_response_due_at",
            N,
            "When its response is due (epoch seconds; null once responded or without target).",
            "epoch seconds",
        ),
        Feature(
            "ticket_resolution_due_at",
            N,
            "When its resolution is due (epoch seconds; null without target).",
            "epoch seconds",
        ),
        Feature(
            "ticket_response_due_hours",
            N,
            "Hours until its response is due; negative when overdue.",
            "hours",
        ),
        Feature(
            "ticket_resolution_due_hours",
            N,
            "Hours until its resolution is due; negative when overdue.",
            "hours",
        ),
        Feature(
            "last_ticket_breached",
            B,
            "The most recently resolved ticket missed its response or resolution deadline.",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        t = care_tickets
        as_of = ctx.as_of
        # Each part ranks or counts per customer in a nested subquery, where the caller's
        # filter cannot reach: the customers being computed are chosen inside.
        mine = ctx.limit_to(t.c.customer_id)
        is_open = and_(t.c.opened_at <= as_of, t.c.resolved_at.is_(None))
        response_due = case((t.c.responded_at.is_(None), t.c.response_due_at))
        overdue = and_(is_open, or_(response_due < as_of, t.c.resolution_due_at < as_of))
        nearest = func.coalesce(response_due, t.c.resolution_due_at)
        ranked = (
            select(
                t.c.customer_id,
                t.c.ref,
                t.c.severity,
                t.c.topic,
                t.c.channel,
                t.c.opened_at,
                response_due.label("response_due_at"),
                t.c.resolution_due_at,
                func.row_number()
                .over(
                    partition_by=t.c.customer_id,
                    order_by=(
                        t.c.escalation_level.desc(),
                        nearest.is_(None),
                        nearest,
                        t.c.opened_at,
                        t.c.ref,
                    ),
                )
                .label("rank"),
            )
            .where(is_open, mine)
            .subquery("urgent_ranked")
        )
        urgent = select(ranked).where(ranked.c.rank == 1).subquery("urgent")
        last_resolved = (
            select(
                t.c.customer_id,
                or_(t.c.response_breached, t.c.resolution_breached).label("breached"),
                func.row_number()
                .over(partition_by=t.c.customer_id, order_by=(t.c.resolved_at.desc(), t.c.ref))
                .label("rank"),
            )
            .where(t.c.resolved_at.is_not(None), t.c.resolved_at <= as_of, mine)
            .subquery("resolved_ranked")
        )
        latest = select(last_resolved).where(last_resolved.c.rank == 1).subquery("latest")
        counts = (
            select(
                t.c.customer_id,
                count_if(overdue).label("overdue_tickets"),
                func.max(case((is_open, t.c.escalation_level), else_=0)).label("level"),
            )
            .where(t.c.opened_at <= as_of, mine)
            .group_by(t.c.customer_id)
            .subquery("ticket_counts")
        )
        return select(
            counts.c.customer_id,
            counts.c.overdue_tickets,
            counts.c.level.label("ticket_escalation_level"),
            urgent.c.ref.label("ticket_ref"),
            urgent.c.severity.label("ticket_severity"),
            urgent.c.topic.label("ticket_topic"),
            urgent.c.channel.label("ticket_channel"),
            _hours(literal(as_of), urgent.c.opened_at).label("ticket_hours_open"),
            urgent.c.response_due_at.label("ticket_response_due_at"),
            urgent.c.resolution_due_at.label("ticket_resolution_due_at"),
            _hours(urgent.c.response_due_at, literal(as_of)).label("ticket_response_due_hours"),
            _hours(urgent.c.resolution_due_at, literal(as_of)).label("ticket_resolution_due_hours"),
            latest.c.breached.label("last_ticket_breached"),
        ).select_from(
            counts.outerjoin(urgent, urgent.c.customer_id == counts.c.customer_id).outerjoin(
                latest, latest.c.customer_id == counts.c.customer_id
            )
        )
