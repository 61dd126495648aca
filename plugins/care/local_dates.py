"""Local calendar dates of stored instants, per customer time zone, without per-row zones.

SQLite cannot convert time zones, so each zone in use is described by a TEMP table of
UTC-offset segments (a handful of rows per zone: one per daylight-saving change since
1970), computed with :mod:`zoneinfo`::

    care_zone_offsets(zone, from_at, to_at, offset_seconds)

``instant + offset_seconds`` is then the local wall-clock time as if it were UTC, and
:class:`LocalYear`, :class:`LocalMonth` and :class:`LocalDay` read its date with each database's own date function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core.temp_tables import KEY_ORDERED, recreate, temp_table

WEEK = 7 * 86400
EPOCH_START = 0  # offsets are traced from 1970 on; earlier instants use the 1970 offset
FOREVER = 2**62


def offsets_table() -> Table:
    return temp_table(
        "care_zone_offsets",
        Column("zone", String(64), primary_key=True),
        Column("from_at", BigInteger, primary_key=True),
        Column("to_at", BigInteger, nullable=False),
        Column("offset_seconds", Integer, nullable=False),
        **KEY_ORDERED,
    )


def _offset(zone: ZoneInfo, instant: int) -> int:
    delta = dt.datetime.fromtimestamp(instant, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def offset_segments(zone: ZoneInfo, until: int) -> list[tuple[int, int, int]]:
    """``(from_at, to_at, offset)`` covering all time; changes found week by week, then to
    the second by bisection (zones change offset at most a few times a year)."""
    segments: list[tuple[int, int, int]] = []
    start, current = -FOREVER, _offset(zone, EPOCH_START)
    probe = EPOCH_START
    while probe < until:
        nxt = min(probe + WEEK, until)
        if _offset(zone, nxt) != current:
            low, high = probe, nxt  # offset(low) == current != offset(high)
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == current:
                    low = middle
                else:
                    high = middle
            segments.append((start, high, current))
            start, current = high, _offset(zone, high)
        probe = nxt
    segments.append((start, FOREVER, current))
    return segments


def fill_offsets(conn: Connection, zones: Iterable[str], until: int) -> None:
    table = offsets_table()
    recreate(conn, table)
    rows: list[dict[str, Any]] = []
    for name in sorted(set(zones)):
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        rows.extend(
            {"zone": name, "from_at": a, "to_at": b, "offset_seconds": off}
            for a, b, off in offset_segments(zone, until)
        )
    if rows:
        conn.execute(insert(table), rows)


class _DatePart(FunctionElement[int]):
    """A part of epoch seconds read as UTC, as an integer (one subclass per part, so
    statements that differ only in the part get different cache keys)."""

    type = Integer()
    inherit_cache = True
    part = ""
    sqlite_format = ""


class LocalYear(_DatePart):
    inherit_cache = True
    part, sqlite_format = "YEAR", "%Y"


class LocalMonth(_DatePart):
    inherit_cache = True
    part, sqlite_format = "MONTH", "%m"


class LocalDay(_DatePart):
    inherit_cache = True
    part, sqlite_format = "DAY", "%d"


def _default(element: _DatePart, compiler: SQLCompiler, **kw: Any) -> str:
    instant = compiler.process(element.clauses, **kw)
    return (
        f"CAST(EXTRACT({element.part} FROM TO_TIMESTAMP({instant}) AT TIME ZONE 'UTC') AS INTEGER)"
    )


def _sqlite(element: _DatePart, compiler: SQLCompiler, **kw: Any) -> str:
    instant = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('{element.sqlite_format}', {instant}, 'unixepoch') AS INTEGER)"


for _part in (LocalYear, LocalMonth, LocalDay):
    compiles(_part)(_default)
    compiles(_part, "sqlite")(_sqlite)
