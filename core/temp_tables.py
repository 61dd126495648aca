"""Per-connection TEMP tables used inside one cycle (features, calendars, matches).

They live only as long as the connection, so a dry run can compute everything a
cycle computes without writing to the store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table

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
