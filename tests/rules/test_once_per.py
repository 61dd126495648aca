"""once_per: calendar period keys in the configured zone, ISO weeks, durations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.rules import OncePer
from core.testing import FIXED_AS_OF

UTC = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, zone: ZoneInfo = UTC
) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=zone).timestamp())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("once", "once"),
        ("day", "2026-11-23"),
        ("week", "2026-W48"),
        ("month", "2026-11"),
        ("quarter", "2026-Q4"),
        ("year", "2026"),
        ("Year", "2026"),
        ("180d", "2026-11-23T01:00:00Z"),
    ],
)
def test_period_keys(text: str, key: str) -> None:
    assert OncePer.parse(text).period_key(FIXED_AS_OF, SHANGHAI) == key


def test_calendar_periods_are_in_the_configured_zone() -> None:
    new_year_in_shanghai = at(2026, 12, 31, 20)  # 2027-01-01 04:00 in Shanghai
    year, day = OncePer.parse("year"), OncePer.parse("day")
    assert year.period_key(new_year_in_shanghai, SHANGHAI) == "2027"
    assert year.period_key(new_year_in_shanghai, UTC) == "2026"
    assert day.period_key(new_year_in_shanghai, SHANGHAI) == "2027-01-01"
    assert OncePer.parse("quarter").period_key(new_year_in_shanghai, SHANGHAI) == "2027-Q1"


@pytest.mark.parametrize(
    ("date", "week"),
    [
        ((2026, 12, 31), "2026-W53"),  # Thursday
        ((2027, 1, 1), "2026-W53"),  # Friday: still the last week of 2026
        ((2027, 1, 4), "2027-W01"),  # Monday
        ((2024, 12, 30), "2025-W01"),  # Monday: already the first week of 2025
        ((2021, 1, 3), "2020-W53"),  # Sunday
        ((2026, 1, 1), "2026-W01"),
    ],
)
def test_iso_weeks_at_year_boundaries(date: tuple[int, int, int], week: str) -> None:
    noon = at(*date, 12, zone=SHANGHAI)
    assert OncePer.parse("week").period_key(noon, SHANGHAI) == week


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("7D", 604800),
        ("7 d", 604800),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    once_per = OncePer.parse(text)
    assert once_per.lookback_seconds == seconds
    assert once_per.period_key(FIXED_AS_OF + 1, SHANGHAI) == "2026-11-23T01:00:01Z"


@pytest.mark.parametrize("text", ["once", "day", "week", "month", "quarter", "year"])
def test_calendar_periods_have_no_lookback(text: str) -> None:
    assert OncePer.parse(text).lookback_seconds is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "weekly",
            "'weekly' is not valid (did you mean 'week'?): use once, day, week, month, quarter, "
            "year or a duration such as 30m, 12h, 7d, 2w",
        ),
        (
            "7",
            "'7' is not valid: use once, day, week, month, quarter, year or a duration such as "
            "30m, 12h, 7d, 2w",
        ),
        ("0d", "'0d' is not valid: a duration must be longer than zero"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        OncePer.parse(text)
    assert str(raised.value) == message
