"""Complaint tickets: built from complaint events, kept in ``care_tickets``.

A ticket is the events of one customer with one ``ref`` (events without a ref form
one ticket per customer, ref ``''``)::

    complaint_opened     payload: {severity: normal|major|complex, channel: email, topic: payment}
    complaint_responded  the first one after (re)opening stops the response clock
    complaint_resolved   stops the resolution clock (and the response clock if still running)
    complaint_reopened   starts a new *episode*: both clocks restart from the reopening

Severity, channel and topic are read from the first ``complaint_opened`` event
(severity ``normal`` when absent). :func:`ticket_facts` is one GROUP BY over the
complaint events as of an instant (:func:`fill_complaint_events`); the SLA stage
(:mod:`plugins.care.sla`) adds the deadlines and the escalation level and stores the
result in :class:`CareTicket`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlmodel import Field, SQLModel

from core.aggregates import count_if, max_if, min_if
from core.store.tables import Event, table_of
from core.temp_tables import KEY_ORDERED, recreate, temp_table

OPENED = "complaint_opened"
RESPONDED = "complaint_responded"
RESOLVED = "complaint_resolved"
REOPENED = "complaint_reopened"
COMPLAINT_TYPES = (OPENED, RESPONDED, RESOLVED, REOPENED)
DEFAULT_SEVERITY = "normal"

ev = table_of(Event)


class CareTicket(SQLModel, table=True):
    """One complaint ticket as of the latest cycle: facts, SLA deadlines, escalation."""

    __tablename__ = "care_tickets"
    __table_args__ = (Index("ix_care_tickets_opened", "opened_at"),)

    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    ref: str = Field(primary_key=True, max_length=128, description="ticket id ('' if none)")
    severity: str = Field(default=DEFAULT_SEVERITY, max_length=32)
    channel: str | None = Field(default=None, max_length=32)
    topic: str | None = Field(default=None, max_length=64)
    opened_at: int = Field(sa_type=BigInteger)
    episode: int = Field(default=0, description="times reopened")
    episode_started_at: int = Field(sa_type=BigInteger)
    first_response_at: int | None = Field(default=None, sa_type=BigInteger)
    responded_at: int | None = Field(default=None, sa_type=BigInteger, description="this episode")
    resolved_at: int | None = Field(default=None, sa_type=BigInteger, description="this episode")
    response_profile: str | None = Field(default=None, max_length=64)
    resolution_profile: str | None = Field(default=None, max_length=64)
    response_due_at: int | None = Field(default=None, sa_type=BigInteger)
    resolution_due_at: int | None = Field(default=None, sa_type=BigInteger)
    response_breached: bool = Field(default=False, description="in any episode")
    resolution_breached: bool = Field(default=False, description="in any episode")
    escalation_level: int = Field(default=0, description="highest level fired, this episode")
    escalated_at: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger, description="as-of instant of the state")


care_tickets = table_of(CareTicket)


def _payload(key: str) -> Any:
    return func.lower(ev.c.payload[key].as_string())


def complaint_events_table() -> Table:
    return temp_table(
        "care_complaint_events",
        Column("customer_id", Integer, primary_key=True),
        Column("ref", String(128), primary_key=True),
        Column("occurred_at", BigInteger, primary_key=True),
        Column("id", BigInteger, primary_key=True),
        Column("type", String(48), nullable=False),
        Column("severity", String(32)),
        Column("channel", String(32)),
        Column("topic", String(64)),
        **KEY_ORDERED,
    )


def fill_complaint_events(conn: Connection, as_of: int, customers: Any = None) -> Table:
    """The complaint events as of ``as_of`` (of ``customers``, a SELECT of ids, if given)
    in a TEMP table in ticket order: (customer, ref, instant, id).

    They are a few in a hundred events. Their ids are found in an index first and the
    rows then read in id order (``id IN (...)``): the order they lie in the table,
    whatever order the index gave them in. Every reading of :func:`ticket_facts` then
    goes through them in ticket order, without a sort of its own."""
    table = complaint_events_table()
    recreate(conn, table)
    opened = ev.c.type == OPENED
    # The filter on customers sits in here, where the events index serves each one.
    theirs = true() if customers is None else ev.c.customer_id.in_(customers)
    wanted = select(ev.c.id).where(
        ev.c.occurred_at <= as_of, ev.c.type.in_(COMPLAINT_TYPES), theirs
    )
    rows = select(
        ev.c.customer_id,
        func.coalesce(ev.c.ref, literal("")).label("ref"),
        ev.c.occurred_at,
        ev.c.id,
        ev.c.type,
        case((opened, func.coalesce(_payload("severity"), literal(DEFAULT_SEVERITY)))).label(
            "severity"
        ),
        case((opened, _payload("channel"))).label("channel"),
        case((opened, _payload("topic"))).label("topic"),
    ).where(ev.c.id.in_(wanted))
    conn.execute(insert(table).from_select([c.name for c in rows.selected_columns], rows))
    return table


def ticket_facts(complaints: Table) -> Select[Any]:
    """Every ticket's facts from its complaint events (:func:`fill_complaint_events`):
    one row per (customer_id, ref).

    Columns: customer_id, ref, severity, channel, topic, opened_at, episode,
    episode_started_at, first_response_at, responded_at, resolved_at, last_event_at.
    Tickets without a ``complaint_opened`` event are left out.
    """
    c = complaints.c
    opens = c.type.in_([OPENED, REOPENED])
    starts = (
        select(
            c.customer_id,
            c.ref,
            min_if(c.type == OPENED, c.occurred_at).label("opened_at"),
            max_if(opens, c.occurred_at).label("episode_started_at"),
            count_if(c.type == REOPENED).label("episode"),
            func.max(c.occurred_at).label("last_event_at"),
        )
        .group_by(c.customer_id, c.ref)
        .subquery("ticket_starts")
    )
    ranked = (
        select(
            c.customer_id,
            c.ref,
            c.severity,
            c.channel,
            c.topic,
            func.row_number()
            .over(partition_by=(c.customer_id, c.ref), order_by=(c.occurred_at, c.id))
            .label("rank"),
        )
        .where(c.type == OPENED)
        .subquery("ticket_opening")
    )
    later = c.occurred_at >= starts.c.episode_started_at
    answered = c.type.in_([RESPONDED, RESOLVED])
    return (
        select(
            starts.c.customer_id,
            starts.c.ref,
            ranked.c.severity,
            ranked.c.channel,
            ranked.c.topic,
            starts.c.opened_at,
            starts.c.episode,
            starts.c.episode_started_at,
            min_if(answered, c.occurred_at).label("first_response_at"),
            min_if(and_(answered, later), c.occurred_at).label("responded_at"),
            min_if(and_(c.type == RESOLVED, later), c.occurred_at).label("resolved_at"),
            starts.c.last_event_at,
        )
        .select_from(
            starts.join(
                ranked,
                and_(
                    ranked.c.customer_id == starts.c.customer_id,
                    ranked.c.ref == starts.c.ref,
                    ranked.c.rank == 1,
                ),
            ).join(
                complaints,
                and_(c.customer_id == starts.c.customer_id, c.ref == starts.c.ref),
            )
        )
        .where(starts.c.opened_at.is_not(None))
        .group_by(
            starts.c.customer_id,
            starts.c.ref,
            ranked.c.severity,
            ranked.c.channel,
            ranked.c.topic,
            starts.c.opened_at,
            starts.c.episode,
            starts.c.episode_started_at,
            starts.c.last_event_at,
        )
    )


__all__ = [
    "COMPLAINT_TYPES",
    "CareTicket",
    "care_tickets",
    "complaint_events_table",
    "fill_complaint_events",
    "ticket_facts",
]
