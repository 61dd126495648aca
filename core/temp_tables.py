"""Per-connection TEMP tables used inside one cycle (features, calendars, matches).

They live only as long as the connection, so a dry run can compute everything a
cycle computes without writing to the store.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, Table, event

TEMP_METADATA = MetaData()

# For a table read by a key other than one integer, probed once per customer (a calendar
# by zone and date, scores by three statistics) or read by a key prefix (a rule's mask
# word): on SQLite its rows then live in the key's own B-tree, so a probe is one search
# and a prefix one range, not index entries each followed by a row fetch.
KEY_ORDERED: dict[str, Any] = {"sqlite_with_rowid": False}


def temp_table(name: str, *columns: Column[Any], **options: Any) -> Table:
    """A TEMPORARY table definition, defined once per name (``options``: dialect
    options such as ``sqlite_with_rowid=False``)."""
    if name in TEMP_METADATA.tables:
        return TEMP_METADATA.tables[name]
    return Table(name, TEMP_METADATA, *columns, prefixes=["TEMPORARY"], **options)


def recreate(conn: Connection, table: Table) -> None:
    """Drop the connection's copy of ``table`` if it exists and create it empty."""
    # On SQLite the schema is named: an unqualified DROP ... IF EXISTS of a missing table
    # opens a read transaction on every attached database, fixing its snapshot early
    # (see core.parallel_features).
    schema = "temp." if conn.dialect.name == "sqlite" else ""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}{table.name}")
    table.create(conn)


_INSERT_INTO = re.compile(r'INSERT INTO "?(\w+)"?[\s(]')


def analyze_after_inserts(engine: Engine) -> None:
    """On PostgreSQL, ``ANALYZE`` a TEMP table each time rows are inserted into it.

    Autovacuum never analyzes TEMP tables, so without this every join that reads one
    was planned on guesses: the complaint events of 100,000 customers (5,180 rows) were
    estimated at 26, and a cold cycle's SLA facts joined them in nested loops (16 s; a
    fraction of a second with statistics). Sampling a table takes a few milliseconds
    (a million rows, about a tenth of a second). SQLite plans TEMP tables from their
    indexes and needs nothing of this.
    """

    def analyze(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        match = _INSERT_INTO.match(statement)
        if match is None or match.group(1) not in TEMP_METADATA.tables or not cursor.rowcount:
            return
        # A cursor of its own: the statement's cursor still holds its rowcount.
        with conn.connection.dbapi_connection.cursor() as own:
            own.execute(f"ANALYZE {match.group(1)}")

    event.listen(engine, "after_cursor_execute", analyze)
