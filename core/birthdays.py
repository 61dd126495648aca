"""Days until each birthday, in each customer's own time zone, as a small TEMP table.

Rather than convert time zones per customer in SQL (which SQLite cannot do), the
cycle computes, for every time zone in use and every (month, day) of the year, the
number of days from the local date at ``as_of`` to the next such birthday: at most
366 rows per zone. Customers then join on (zone, birth month, birth day).
A 29 February birthday is celebrated on 28 February in years without one.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    SmallInteger,
    String,
    Table,
    func,
    insert,
    select,
)

from core.store.tables import Customer, table_of
from core.temp_tables import KEY_ORDERED, recreate, temp_table
from core.vocabulary import FeatureContext


def birthday_calendar_table() -> Table:
    return temp_table(
        "patron_birthday_calendar",
        Column("zone", String(64), primary_key=True),
        Column("birth_month", SmallInteger, primary_key=True),
        Column("birth_day", SmallInteger, primary_key=True),
        Column("days_until", Integer, nullable=False),
        **KEY_ORDERED,
    )


def celebration_date(year: int, month: int, day: int) -> dt.date:
    if month == 2 and day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return dt.date(year, month, day)


def days_until_birthday(today: dt.date, month: int, day: int) -> int:
    """Days from ``today`` to the next celebration of a (month, day) birthday; 0 on the day."""
    this_year = celebration_date(today.year, month, day)
    if this_year >= today:
        return (this_year - today).days
    return (celebration_date(today.year + 1, month, day) - today).days


def _month_days() -> Iterator[tuple[int, int]]:
    for month in range(1, 13):
        for day in range(1, calendar.monthrange(2024, month)[1] + 1):  # 2024: a leap year
            yield month, day


def calendar_rows(zone: str, as_of: int) -> list[dict[str, object]]:
    try:
        today = dt.datetime.fromtimestamp(as_of, ZoneInfo(zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return []
    return [
        {
            "zone": zone,
            "birth_month": m,
            "birth_day": d,
            "days_until": days_until_birthday(today, m, d),
        }
        for m, d in _month_days()
    ]


def fill_birthday_calendar(conn: Connection, ctx: FeatureContext) -> None:
    table = birthday_calendar_table()
    recreate(conn, table)
    customers = table_of(Customer)
    zones = {ctx.settings.timezone}
    zones.update(z for (z,) in conn.execute(select(func.distinct(customers.c.timezone))) if z)
    rows = [row for zone in sorted(zones) for row in calendar_rows(zone, ctx.as_of)]
    if rows:
        conn.execute(insert(table), rows)
