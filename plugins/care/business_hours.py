"""Business hours: an SLA clock that runs only in working time, computed set-based.

Per-row calendar arithmetic is not portable SQL, so the cycle first lays each calendar
out in Python as a TEMP table of working intervals (UTC epoch seconds) over the dates
it needs, each carrying the working seconds of the calendar before it::

    care_work_intervals(calendar, start_at, end_at, work_before)

A *working position* is the number of working seconds since the table's first
interval. Two correlated scalar subqueries, one indexed lookup each, then do all the
arithmetic for every ticket at once:

- ``position_at(calendar, t)``: working seconds before instant ``t``;
- ``instant_at(calendar, p)``: the instant at which working position ``p`` is reached
  (the end of a working period rather than the start of the next one).

A deadline ``T`` working seconds after a start ``s`` is ``instant_at(position_at(s) + T)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from core.temp_tables import recreate, temp_table
from plugins.care.holidays_calendar import country_holidays, make_up_working_days
from plugins.care.sla_model import WEEKDAYS, CalendarModel, work_period

DAY = 86400
MAX_DAYS = 3 * 366  # how far a calendar is laid out, at most, beyond what is asked


def intervals_table() -> Table:
    table = temp_table(
        "care_work_intervals",
        Column("calendar", String(64), primary_key=True),
        Column("start_at", BigInteger, primary_key=True),
        Column("end_at", BigInteger, nullable=False),
        Column("work_before", BigInteger, nullable=False),
    )
    if not table.indexes:
        Index("ix_care_work_intervals_work", table.c.calendar, table.c.work_before)
    return table


@dataclass(frozen=True)
class WorkingCalendar:
    """A calendar of the ``sla:`` section, ready to lay out."""

    name: str
    zone: ZoneInfo
    weekdays: frozenset[int]  # 0 = Monday
    periods: tuple[tuple[int, int], ...]  # seconds after local midnight
    country: str | None
    subdivision: str | None
    extra_holidays: frozenset[dt.date]
    extra_working_days: frozenset[dt.date]

    @classmethod
    def from_model(cls, name: str, model: CalendarModel, default_zone: str) -> WorkingCalendar:
        periods = sorted(work_period(text) for text in model.hours)
        return cls(
            name=name,
            zone=ZoneInfo(model.timezone or default_zone),
            weekdays=frozenset(WEEKDAYS.index(day) for day in model.days),
            periods=tuple(periods),
            country=model.country,
            subdivision=model.region,
            extra_holidays=frozenset(model.extra_holidays),
            extra_working_days=frozenset(model.extra_working_days),
        )

    @property
    def seconds_per_day(self) -> int:
        return sum(end - start for start, end in self.periods)

    def working_days(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        """The working days from ``first`` to ``last`` inclusive."""
        off: set[dt.date] = set(self.extra_holidays)
        on: set[dt.date] = set(self.extra_working_days)
        if self.country:
            years = tuple(range(first.year, last.year + 1))
            table = country_holidays(self.country, years, self.subdivision)
            if table is not None:
                off.update(day for day in table if first <= day <= last)
                on.update(make_up_working_days(table))
        day = first
        while day <= last:
            listed_on = day in on and day not in self.extra_holidays
            if listed_on or (day.weekday() in self.weekdays and day not in off):
                yield day
            day += dt.timedelta(days=1)

    def intervals(self, first: dt.date, last: dt.date) -> Iterator[tuple[int, int]]:
        """Working periods of the days ``first``..``last`` as UTC epoch seconds."""
        for day in self.working_days(first, last):
            midnight = dt.datetime.combine(day, dt.time(), self.zone)
            for start, end in self.periods:
                yield _instant(midnight, start), _instant(midnight, end)

    def rows(self, first: dt.date, covers_seconds: int, from_day: dt.date) -> list[dict[str, Any]]:
        """Intervals from ``first`` on, until ``covers_seconds`` of work after ``from_day``."""
        rows: list[dict[str, Any]] = []
        before = 0
        after_from = 0
        day = first
        limit = max(from_day, first) + dt.timedelta(days=MAX_DAYS)
        while day <= limit:
            # a week at a time keeps the holiday look-ups few
            last = min(day + dt.timedelta(days=6), limit)
            for start, end in self.intervals(day, last):
                rows.append(
                    {"calendar": self.name, "start_at": start, "end_at": end, "work_before": before}
                )
                before += end - start
                if dt.datetime.fromtimestamp(start, self.zone).date() >= from_day:
                    after_from += end - start
            day = last + dt.timedelta(days=1)
            if after_from > covers_seconds:
                break
        return rows


def _instant(midnight: dt.datetime, seconds: int) -> int:
    """Local midnight plus a wall-clock offset (24:00 is the next midnight), in epoch seconds."""
    if seconds >= DAY:
        nxt = dt.datetime.combine(
            midnight.date() + dt.timedelta(days=1), dt.time(), midnight.tzinfo
        )
        return int(nxt.timestamp())
    wall = midnight + dt.timedelta(seconds=seconds)  # wall-clock arithmetic in the zone
    return int(wall.timestamp())


def fill_intervals(
    conn: Connection,
    calendars: list[WorkingCalendar],
    earliest: int,
    as_of: int,
    covers_seconds: int,
) -> None:
    """Lay out every calendar from the day before ``earliest`` to ``covers_seconds`` of work
    after the day of ``as_of`` (so any deadline up to that many working seconds after a
    start before ``as_of`` lies inside the table)."""
    table = intervals_table()
    recreate(conn, table)
    rows: list[dict[str, Any]] = []
    for calendar in calendars:
        first = dt.datetime.fromtimestamp(min(earliest, as_of), calendar.zone).date()
        today = dt.datetime.fromtimestamp(as_of, calendar.zone).date()
        rows.extend(calendar.rows(first - dt.timedelta(days=1), covers_seconds, today))
    if rows:
        conn.execute(insert(table), rows)


def position_at(calendar: ColumnElement[Any], instant: ColumnElement[Any]) -> Any:
    """Working seconds of ``calendar`` before ``instant`` (0 before its first interval)."""
    iv = intervals_table().alias("iv_pos")
    inside = case(
        (instant >= iv.c.end_at, iv.c.end_at - iv.c.start_at), else_=instant - iv.c.start_at
    )
    latest = (
        select(iv.c.work_before + inside)
        .where(iv.c.calendar == calendar, iv.c.start_at <= instant)
        .order_by(iv.c.start_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, 0)


def instant_at(calendar: ColumnElement[Any], position: ColumnElement[Any]) -> Any:
    """The instant at which ``calendar`` has worked ``position`` seconds (position > 0)."""
    iv = intervals_table().alias("iv_at")
    return (
        select(iv.c.start_at + (position - iv.c.work_before))
        .where(and_(iv.c.calendar == calendar, iv.c.work_before < position))
        .order_by(iv.c.work_before.desc())
        .limit(1)
        .scalar_subquery()
    )


__all__ = [
    "WorkingCalendar",
    "fill_intervals",
    "instant_at",
    "intervals_table",
    "position_at",
]
