"""Which customers' tickets may have changed since ``care_tickets`` was last refreshed.

A ticket's facts are a function of its customer's complaint events as of the instant.
Between the last refresh (instant ``then``, events up to id ``mark``) and now they can
only differ for a customer with a complaint event imported since or dated in
``(then, now]`` (:func:`core.kept_sets.customers_with_events`). The SLA clocks of a
ticket that is still open run on without any event, so customers with an open stored
ticket are included too, and so is any ticket stored as of a later instant than now.
Every other stored ticket is resolved, and stays as stored.

Where the refresh stands is a row in ``kept_sets``, written in the cycle's transaction.
Without it, after a change of :func:`plugins.care.tickets.ticket_facts`, for an instant
before it (a backtest) and in a dry run (which must not wait for the events lock of
:func:`core.store.watermark.cycle_watermark`) every ticket is looked at.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Integer, Table, insert, or_, select, union

from core.kept_sets import customers_with_events, record_state, source_digest, stored_state
from core.store.watermark import cycle_watermark
from core.temp_tables import recreate, temp_table
from core.vocabulary import FeatureContext
from plugins.care import tickets
from plugins.care.tickets import COMPLAINT_TYPES, care_tickets

STATE_NAME = "care_ticket_refresh"  # its row in kept_sets (not a feature set's name)


def facts_fingerprint() -> str:
    """The definition of a ticket's facts: new code looks at every ticket once."""
    return source_digest(tickets)


def changed_table() -> Table:
    return temp_table("care_ticket_customers", Column("customer_id", Integer, primary_key=True))


def customers_to_refresh(conn: Connection, ctx: FeatureContext) -> Any:
    """SELECT of the customers whose tickets to recompute, or None for every customer."""
    if ctx.read_only:
        return None
    cycle_watermark(conn, ctx.cycle_state)  # read before any event is: see record_refresh
    state = stored_state(conn, STATE_NAME)
    if state is None or state.fingerprint != facts_fingerprint() or state.as_of > ctx.as_of:
        return None
    stored = select(care_tickets.c.customer_id).where(
        or_(care_tickets.c.resolved_at.is_(None), care_tickets.c.updated_at > ctx.as_of)
    )
    events = customers_with_events(COMPLAINT_TYPES, state.as_of, state.watermark, ctx.as_of)
    table = changed_table()
    recreate(conn, table)
    conn.execute(insert(table).from_select(["customer_id"], union(*events.selects, stored)))
    return select(table.c.customer_id)


def record_refresh(conn: Connection, ctx: FeatureContext) -> None:
    """Record that ``care_tickets`` now stands at the cycle's instant (not in a dry run)."""
    if ctx.read_only:
        return
    mark = cycle_watermark(conn, ctx.cycle_state)  # read by customers_to_refresh
    record_state(conn, STATE_NAME, facts_fingerprint(), ctx.as_of, mark)


__all__ = ["STATE_NAME", "customers_to_refresh", "facts_fingerprint", "record_refresh"]
