"""The lock that lets one cycle at a time run on a store.

SQLite needs none: a cycle's write transaction excludes every other writer. On
PostgreSQL a cycle holds a transaction-scoped advisory lock, keyed by the schema too
(one store is one schema, so stores sharing a database do not wait for each other).
"""

from __future__ import annotations

from sqlalchemy import Connection

CYCLE_LOCK_ID = 7263002
_KEY = f"{CYCLE_LOCK_ID}, hashtext(current_schema())"


def try_cycle_lock(conn: Connection) -> bool:
    """Take the lock for this transaction if it is free; False if a cycle holds it."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({_KEY})").scalar())


def wait_for_cycles(conn: Connection) -> None:
    """Take the lock for this transaction, waiting for a running cycle to end."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_KEY})")


__all__ = ["CYCLE_LOCK_ID", "try_cycle_lock", "wait_for_cycles"]
