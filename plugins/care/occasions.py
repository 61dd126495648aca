"""Care occasions as features: holidays of the customer's country, membership anniversaries,
and the customer's local date (for member days), all in the customer's own time zone.

``prepare`` computes small TEMP tables in Python — per time zone in use its local date
and UTC offsets, per (country, local date) the holiday outlook from ``holidays``, per
zone the days until each (month, day) — and ``select`` joins customers onto them: no
per-customer Python. The customer's country is ``attributes.country`` if imported, else
the country of their own time zone, else their locale's region (``zh-CN`` → CN), else
the country of ``timezone`` in patron.yaml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    Select,
    SmallInteger,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    select,
)

from core.birthdays import days_until_birthday
from core.store.tables import Customer, table_of
from core.temp_tables import KEY_ORDERED, recreate, temp_table
from core.vocabulary import Feature, FeatureContext, FeatureType
from plugins.care.holidays_calendar import (
    TRACKED_KEYS,
    country_of_locale,
    country_of_zone,
    outlook,
)
from plugins.care.local_dates import LocalDay, LocalMonth, LocalYear, fill_offsets, offsets_table

N, S = FeatureType.NUMBER, FeatureType.STRING
cu = table_of(Customer)
LEAP_YEAR = 2024


def zone_days_table() -> Table:
    return temp_table(
        "care_zone_days",
        Column("zone", String(64), primary_key=True),
        Column("country", String(8)),
        Column("today_ordinal", Integer, nullable=False),
        Column("today_month", SmallInteger, nullable=False),
        Column("today_day", SmallInteger, nullable=False),
        Column("today_weekday", SmallInteger, nullable=False),
        **KEY_ORDERED,
    )


def locale_countries_table() -> Table:
    return temp_table(
        "care_locale_countries",
        Column("locale", String(16), primary_key=True),
        Column("country", String(8), nullable=False),
        **KEY_ORDERED,
    )


def outlook_table() -> Table:
    return temp_table(
        "care_holiday_outlook",
        Column("country", String(8), primary_key=True),
        Column("today_ordinal", Integer, primary_key=True),
        Column("holiday_today", String(64)),
        Column("holiday_today_name", String(128)),
        Column("next_holiday", String(64)),
        Column("days_until_next_holiday", Integer),
        *[Column(f"days_until_{key}", Integer) for key in TRACKED_KEYS],
        **KEY_ORDERED,
    )


def anniversary_table() -> Table:
    return temp_table(
        "care_anniversary_calendar",
        Column("zone", String(64), primary_key=True),
        Column("month", SmallInteger, primary_key=True),
        Column("day", SmallInteger, primary_key=True),
        Column("days_until", Integer, nullable=False),
        Column("next_year", Integer, nullable=False),
        **KEY_ORDERED,
    )


class OccasionFeatures:
    """Holidays, anniversaries and the local date, per customer."""

    name = "care_occasions"
    # prepare fills TEMP calendars that only this set's SELECT reads, on its connection
    parallel_safe = True
    features: Sequence[Feature] = (
        Feature(
            "country",
            S,
            "The customer's country for holidays (ISO code): attributes.country, else the "
            "country of their time zone, else their locale's region, else patron.yaml's.",
        ),
        Feature(
            "holiday_today",
            S,
            "The public holiday on the customer's local date, as a key (spring_festival, "
            "mid_autumn, national_day, new_year, …); null on other days and on substitute "
            "days off.",
        ),
        Feature(
            "holiday_today_name",
            S,
            "Its name in English as the holidays package gives it, e.g. 'Mid-Autumn Festival'.",
        ),
        Feature("next_holiday", S, "The key of the next holiday starting today or later."),
        Feature(
            "days_until_next_holiday",
            N,
            "Days until the first day of the next holiday (0 on its first day).",
            "days",
        ),
        *[
            Feature(
                f"days_until_{key}",
                N,
                f"Days until the first day of the next {key.replace('_', ' ')} holiday in the "
                "customer's country (0 on its first day; null if the country has none).",
                "days",
            )
            for key in TRACKED_KEYS
        ],
        Feature(
            "membership_years",
            N,
            "Whole years since the customer joined (joined_at), in their time zone.",
            "years",
        ),
        Feature(
            "days_until_membership_anniversary",
            N,
            "Days until the next anniversary of joining (0 on the day; 29 February "
            "joiners celebrate on 28 February in other years; null on the joining day).",
            "days",
        ),
        Feature("today_day_of_month", N, "Day of the month of the customer's local date (1–31)."),
        Feature("today_month", N, "Month of the customer's local date (1–12)."),
        Feature("today_weekday", N, "Weekday of the customer's local date (1 Monday … 7 Sunday)."),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        default_zone = ctx.settings.timezone
        seen = conn.execute(
            select(cu.c.timezone, cu.c.locale, _attribute_country()).distinct()
        ).all()
        zones = {default_zone} | {z for z, _, _ in seen if z}
        locales = {loc for _, loc, _ in seen if loc}
        countries = {c for _, _, c in seen if c}
        zone_rows = _zone_rows(zones, ctx.as_of)
        locale_rows = [
            {"locale": loc, "country": country}
            for loc in sorted(locales)
            if (country := country_of_locale(loc))
        ]
        countries.update(r["country"] for r in zone_rows if r["country"])
        countries.update(r["country"] for r in locale_rows)
        if default := country_of_zone(default_zone):
            countries.add(default)
        dates = {r["today_ordinal"] for r in zone_rows}
        outlook_rows = _outlook_rows(countries, dates)
        _refill(conn, zone_days_table(), zone_rows)
        _refill(conn, locale_countries_table(), locale_rows)
        _refill(conn, outlook_table(), outlook_rows)
        _refill(conn, anniversary_table(), _anniversary_rows(zone_rows))
        fill_offsets(conn, [r["zone"] for r in zone_rows], ctx.as_of)

    def select(self, ctx: FeatureContext) -> Select[Any]:
        zd, lc, ho = zone_days_table(), locale_countries_table(), outlook_table()
        ac, off = anniversary_table(), offsets_table()
        zone = func.coalesce(cu.c.timezone, literal(ctx.settings.timezone))
        country = func.coalesce(
            _attribute_country(),
            case((cu.c.timezone.is_not(None), zd.c.country)),
            lc.c.country,
            literal(country_of_zone(ctx.settings.timezone)),
        )
        # The zone's offset when the customer joined: the segment starting last at or
        # before joined_at (an index seek; a range join on from_at/to_at would walk
        # every earlier segment of the zone, a hundred in a zone with daylight saving).
        # The subquery finds the segment's start once; the join then reads its offset by
        # primary key, so the three date parts below do not each repeat the seek.
        seg = off.alias("segment")
        segment_start = (
            select(seg.c.from_at)
            .where(seg.c.zone == zone, seg.c.from_at <= cu.c.joined_at)
            .order_by(seg.c.from_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        joined_local = cu.c.joined_at + off.c.offset_seconds
        joined_year = LocalYear(joined_local)
        years_at_next = ac.c.next_year - joined_year
        future = years_at_next <= 0  # joined today (or later): no anniversary yet
        joined = (
            cu.outerjoin(zd, zd.c.zone == zone)
            .outerjoin(lc, lc.c.locale == cu.c.locale)
            .outerjoin(off, and_(off.c.zone == zone, off.c.from_at == segment_start))
            .outerjoin(ho, and_(ho.c.country == country, ho.c.today_ordinal == zd.c.today_ordinal))
            .outerjoin(
                ac,
                and_(
                    ac.c.zone == zone,
                    ac.c.month == LocalMonth(joined_local),
                    ac.c.day == LocalDay(joined_local),
                ),
            )
        )
        return select(
            cu.c.id.label("customer_id"),
            country.label("country"),
            ho.c.holiday_today,
            ho.c.holiday_today_name,
            ho.c.next_holiday,
            ho.c.days_until_next_holiday,
            *[ho.c[f"days_until_{key}"] for key in TRACKED_KEYS],
            case(
                (future, 0),
                else_=years_at_next - case((ac.c.days_until > 0, 1), else_=0),
            ).label("membership_years"),
            case((future, None), else_=ac.c.days_until).label("days_until_membership_anniversary"),
            zd.c.today_day.label("today_day_of_month"),
            zd.c.today_month.label("today_month"),
            zd.c.today_weekday.label("today_weekday"),
        ).select_from(joined)


def _attribute_country() -> Any:
    return func.upper(cu.c.attributes["country"].as_string())


def _refill(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    recreate(conn, table)
    if rows:
        conn.execute(insert(table), rows)


def _zone_rows(zones: set[str], as_of: int) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(zones):
        try:
            today = dt.datetime.fromtimestamp(as_of, ZoneInfo(name)).date()
        except (ZoneInfoNotFoundError, ValueError):
            continue
        rows.append(
            {
                "zone": name,
                "country": country_of_zone(name),
                "today_ordinal": today.toordinal(),
                "today_month": today.month,
                "today_day": today.day,
                "today_weekday": today.isoweekday(),
            }
        )
    return rows


def _outlook_rows(countries: set[str], dates: set[int]) -> list[dict[str, Any]]:
    rows = []
    for country in sorted(countries):
        for ordinal in sorted(dates):
            found = outlook(country, dt.date.fromordinal(ordinal))
            if found is None:
                break  # the holidays package does not know this country
            rows.append(
                {
                    "country": country,
                    "today_ordinal": ordinal,
                    "holiday_today": found.holiday_today,
                    "holiday_today_name": found.holiday_today_name,
                    "next_holiday": found.next_holiday,
                    "days_until_next_holiday": found.days_until_next_holiday,
                    **{f"days_until_{key}": found.days_until[key] for key in TRACKED_KEYS},
                }
            )
    return rows


def _anniversary_rows(zone_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for zone in zone_rows:
        today = dt.date.fromordinal(zone["today_ordinal"])
        for ordinal in range(
            dt.date(LEAP_YEAR, 1, 1).toordinal(), dt.date(LEAP_YEAR, 12, 31).toordinal() + 1
        ):
            day = dt.date.fromordinal(ordinal)
            days = days_until_birthday(today, day.month, day.day)
            nxt = today + dt.timedelta(days=days)
            rows.append(
                {
                    "zone": zone["zone"],
                    "month": day.month,
                    "day": day.day,
                    "days_until": days,
                    "next_year": nxt.year,
                }
            )
    return rows
