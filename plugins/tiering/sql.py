"""Small SQL helpers that render the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, Table, case, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement, Grouping


def integer(value: int) -> ColumnElement[Any]:
    """An integer constant written into the SQL (no bound parameter to type)."""
    return literal_column(str(int(value)), BigInteger())


def int_div(numerator: Any, denominator: Any) -> ColumnElement[Any]:
    """Integer division of two non-negative integer expressions (truncates on both dialects)."""
    return Grouping(Grouping(numerator).op("/", return_type=BigInteger())(Grouping(denominator)))


def positive_part(value: Any) -> ColumnElement[Any]:
    """``value`` when above 0, else 0 (NULL counts as 0)."""
    return case((value > 0, value), else_=integer(0))


def upsert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing``."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


__all__ = ["int_div", "integer", "positive_part", "upsert"]
