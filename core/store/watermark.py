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

from sqlalchemy import Connection, func, select

from core.store.tables import Event, table_of

EVENTS_LOCK_ID = 7263003
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


__all__ = ["EVENTS_LOCK_ID", "events_watermark", "hold_event_writes"]
