"""The highest event id below which every event is committed, for kept feature sets.

Kept sets (:mod:`core.kept_sets`) recompute the customers with events newer than the
last id they included. That needs an id below which nothing can still appear: on
SQLite the cycle's write transaction excludes every writer, so the largest id is it.
On PostgreSQL ids come from a sequence and an insert may commit after one with a
higher id: every transaction that inserts events therefore holds a shared advisory
lock (:func:`hold_event_writes`), and the watermark is read under the exclusive one,
which waits for those in flight. A writer that starts later draws higher ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from core.store.tables import Event, table_of

EVENTS_LOCK_ID = 7263003
WATERMARK_KEY = "events_watermark"  # in a cycle's ``FeatureContext.cycle_state``
_KEY = f"{EVENTS_LOCK_ID}, hashtext(current_schema())"


def hold_event_writes(conn: Connection) -> None:
    """Call in a transaction that inserts events, before its first insert."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({_KEY})")


def events_watermark(conn: Connection) -> int:
    """The highest event id; no event with a lower or equal one can commit later.

    The cycle's connection (``conn``) reads committed rows statement by statement on
    PostgreSQL, so what it reads next includes everything up to this id."""
    events = table_of(Event)
    newest = select(func.coalesce(func.max(events.c.id), 0))
    if conn.dialect.name != "postgresql":
        return int(conn.execute(newest).scalar_one())
    # On a connection of its own, in a transaction of its own: the lock ends with it,
    # whatever happens (a session lock left on a pooled connection would stop imports).
    with conn.engine.connect() as own, own.begin():
        own.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_KEY})")
        return int(own.execute(newest).scalar_one())


def cycle_watermark(conn: Connection, cycle_state: dict[str, Any]) -> int:
    """The watermark of one cycle: read by its first caller, then the same for every
    computation the cycle keeps (a single earlier mark is always safe: what it includes
    beyond it is recomputed next time)."""
    if WATERMARK_KEY not in cycle_state:
        cycle_state[WATERMARK_KEY] = events_watermark(conn)
    return int(cycle_state[WATERMARK_KEY])


__all__ = ["EVENTS_LOCK_ID", "cycle_watermark", "events_watermark", "hold_event_writes"]
