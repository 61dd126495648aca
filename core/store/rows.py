"""Many rows into Python as plain tuples, straight from the driver.

A result's rows are SQLAlchemy ``Row`` objects, built one by one by the result's
processing; for the few hundred thousand rows a ranking or a model reads at once
(RFM cuts, BG/NBD statistics) building them costs more than the query. Both drivers
return integers, floats and text as Python values already, so a query of such columns
can be run on the driver's cursor of the same connection (same transaction) and its
tuples taken as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Select


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of the driver's connection under ``conn`` (same transaction), closed
    after the block: for bulk reads and writes that skip SQLAlchemy's per-row work."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


def driver_rows(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as a plain tuple, fetched by the driver's own cursor.

    Only for columns the driver already returns as the wanted Python values (numbers,
    text): no result processing (dates, JSON, enums) is applied."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args: Any = params
    if compiled.positional:
        args = tuple(params[name] for name in compiled.positiontup or ())
    with driver_cursor(conn) as cursor:
        cursor.execute(compiled.string, args)
        rows: list[tuple[Any, ...]] = cursor.fetchall()  # both drivers' default rows are tuples
    return rows


__all__ = ["driver_cursor", "driver_rows"]
