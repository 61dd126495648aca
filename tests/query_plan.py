"""SQLite's query plan of a SQLAlchemy query, for tests that pin a plan's shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def sqlite_plan(conn: Connection, query: Any) -> list[str]:
    """The detail column of ``EXPLAIN QUERY PLAN`` for ``query``, one entry per step
    (bound values rendered as literals, IN lists expanded)."""
    sql = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return [str(row[3]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
