"""A ledger row's action arguments: its own ``args`` over the shared ones it names.

Every firing of one action of one rule carries the same arguments (a channel and a
template, a coupon's value). A cycle stores them once, in ``action_args``, interned by
the digest of their canonical JSON, and each of its ledger rows names that row
(``args_id``) with ``{}`` as its own; a row that needs arguments of its own (an SLA
escalation names its ticket and episode) keeps them in ``args``. Readers take
the shared arguments and lay the row's own over them (:func:`merged`). Rows written
before schema version 5 have all their arguments as their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import JSON, Connection, FromClause, String, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement

from core.canonical_json import canonical_json
from core.store.tables import ActionArgs, LedgerEntry, table_of

action_args = table_of(ActionArgs)
ledger = table_of(LedgerEntry)


def intern_args(conn: Connection, args: Mapping[str, Any]) -> int:
    """The id of the ``action_args`` row holding ``args``, added if there is none yet.

    Safe against another writer interning the same arguments at the same time: the
    digest is UNIQUE and the insert does nothing on a conflict."""
    digest = hashlib.sha256(canonical_json(args).encode()).hexdigest()
    find = select(action_args.c.id).where(action_args.c.digest == digest)
    found = conn.execute(find).scalar_one_or_none()
    if found is not None:
        return int(found)
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        dialect_insert(action_args)
        .values(digest=digest, args=dict(args))
        .on_conflict_do_nothing(index_elements=["digest"])
    )
    return int(conn.execute(find).scalar_one())


def args_columns(
    conn: Connection, shared: Mapping[str, Any], own: ColumnElement[Any] | None = None
) -> list[ColumnElement[Any]]:
    """The ``args`` and ``args_id`` columns of an ``INSERT INTO ledger ... SELECT``: the
    arguments every row of the statement shares, interned, and each row's own (``{}``
    when it has none)."""
    own_args = literal({}, type_=JSON) if own is None else own
    return [own_args.label("args"), literal(intern_args(conn, shared)).label("args_id")]


def merged(own: Mapping[str, Any] | None, shared: Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments of a row: the shared ones, with the row's own laid over them."""
    return {**(shared or {}), **(own or {})}


def with_shared_args(conn: Connection, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger rows (mappings with ``args`` and ``args_id``), each with ``args`` replaced
    by its whole arguments."""
    rows = list(rows)
    ids = {row["args_id"] for row in rows if row.get("args_id") is not None}
    shared: dict[int, Any] = {}
    if ids:
        query = select(action_args.c.id, action_args.c.args).where(action_args.c.id.in_(ids))
        shared = {row_id: args for row_id, args in conn.execute(query)}
    for row in rows:
        if row.get("args_id") is not None:
            row["args"] = merged(row.get("args"), shared.get(row["args_id"]))
    return rows


def ledger_rows(conn: Connection, query: Executable) -> list[dict[str, Any]]:
    """The rows of ``query`` (a SELECT or ``RETURNING`` of ledger columns including
    ``args`` and ``args_id``) as dicts, each with its whole arguments."""
    return with_shared_args(conn, (dict(row) for row in conn.execute(query).mappings()))


def ledger_with_args() -> tuple[FromClause, FromClause]:
    """``ledger`` LEFT JOIN ``action_args`` (aliased ``shared_args``), and the alias:
    for SQL that reads an argument of many rows (:func:`argument`)."""
    shared = action_args.alias("shared_args")
    return ledger.outerjoin(shared, shared.c.id == ledger.c.args_id), shared


def argument(shared: FromClause, key: str) -> ColumnElement[Any]:
    """One argument of a ledger row as text, the row's own value first (NULL if
    neither has it); ``shared`` is the alias from :func:`ledger_with_args`."""
    return func.coalesce(
        cast(ledger.c.args[key].as_string(), String), cast(shared.c.args[key].as_string(), String)
    )


__all__ = [
    "action_args",
    "args_columns",
    "argument",
    "intern_args",
    "ledger_rows",
    "ledger_with_args",
    "merged",
    "with_shared_args",
]
