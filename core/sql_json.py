"""A JSON object built in SQL from columns, per row, on SQLite and PostgreSQL.

SQLite calls it ``json_object``, PostgreSQL ``json_build_object``; both take keys and
values in turn. For stages that write JSON payloads set-based (an event's payload, a
ledger row's arguments) without a row passing through Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Connection, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement


def sql_json_object(conn: Connection, pairs: dict[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """``{key: value, ...}`` as a JSON value of each row, in ``conn``'s dialect."""
    args: list[Any] = []
    for key, value in pairs.items():
        args.extend([literal(key), value])
    if conn.dialect.name == "postgresql":
        return cast(func.json_build_object(*args), JSON)
    return func.json_object(*args)


__all__ = ["sql_json_object"]
