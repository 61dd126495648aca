"""Per-connection TEMP tables used inside one cycle (features, calendars, matches).

They live only as long as the connection, so a dry run can compute everything a
cycle computes without writing to the store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table

TEMP_METADATA = MetaData()


def temp_table(name: str, *columns: Column[Any]) -> Table:
    """A TEMPORARY table definition, defined once per name."""
    if name in TEMP_METADATA.tables:
        return TEMP_METADATA.tables[name]
    return Table(name, TEMP_METADATA, *columns, prefixes=["TEMPORARY"])


def recreate(conn: Connection, table: Table) -> None:
    """Drop the connection's copy of ``table`` if it exists and create it empty."""
    # On SQLite the schema is named: an unqualified DROP ... IF EXISTS of a missing table
    # opens a read transaction on every attached database, fixing its snapshot early
    # (see core.parallel_features).
    schema = "temp." if conn.dialect.name == "sqlite" else ""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}{table.name}")
    table.create(conn)
