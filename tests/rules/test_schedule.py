"""Schedules: cron in the configured zone (summer time included), intervals, is_due."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.rules import Schedule
from core.testing import FIXED_AS_OF

UTC = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, zone: ZoneInfo = UTC
) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=zone).timestamp())


def fires(schedule: Schedule, after: int, count: int) -> list[int]:
    times = []
    for _ in range(count):
        nxt = schedule.next_after(after)
        assert nxt is not None
        times.append(nxt)
        after = nxt
    return times


def test_cron_is_read_in_the_configured_zone() -> None:
    assert at(2026, 11, 23, 9, zone=SHANGHAI) == FIXED_AS_OF
    shanghai = Schedule.parse("0 9 * * *", SHANGHAI)
    utc = Schedule.parse("0 9 * * *", UTC)
    assert shanghai.next_after(FIXED_AS_OF - 1) == FIXED_AS_OF  # 01:00 UTC
    assert shanghai.next_after(FIXED_AS_OF) == at(2026, 11, 24, 1)  # strictly after
    assert utc.next_after(FIXED_AS_OF) == at(2026, 11, 23, 9)


def test_cron_follows_summer_time() -> None:
    nine = Schedule.parse("0 9 * * *", BERLIN)
    assert fires(nine, at(2026, 3, 27, 12), 3) == [
        at(2026, 3, 28, 8),  # CET, UTC+1
        at(2026, 3, 29, 7),  # CEST, UTC+2, from this morning on
        at(2026, 3, 30, 7),
    ]
    assert fires(nine, at(2026, 10, 24, 0), 2) == [at(2026, 10, 24, 7), at(2026, 10, 25, 8)]


def test_cron_in_the_hours_summer_time_skips_or_repeats() -> None:
    half_past_two = Schedule.parse("30 2 * * *", BERLIN)
    # 02:30 does not exist on 29 March: the rule runs once, an hour late (03:30 CEST)
    assert fires(half_past_two, at(2026, 3, 28, 12), 2) == [
        at(2026, 3, 29, 1, 30),
        at(2026, 3, 30, 0, 30),
    ]
    # 02:30 happens twice on 25 October: the rule runs at both (once_per keeps firings single)
    assert fires(half_past_two, at(2026, 10, 24, 12), 3) == [
        at(2026, 10, 25, 0, 30),
        at(2026, 10, 25, 1, 30),
        at(2026, 10, 26, 1, 30),
    ]


def test_cron_fields() -> None:
    weekdays = Schedule.parse("*/30 8-9 * * mon-fri", SHANGHAI)
    saturday_morning = at(2026, 11, 28, 7, zone=SHANGHAI)
    assert fires(weekdays, saturday_morning, 5) == [
        at(2026, 11, 30, 8, 0, zone=SHANGHAI),
        at(2026, 11, 30, 8, 30, zone=SHANGHAI),
        at(2026, 11, 30, 9, 0, zone=SHANGHAI),
        at(2026, 11, 30, 9, 30, zone=SHANGHAI),
        at(2026, 12, 1, 8, 0, zone=SHANGHAI),
    ]
    assert Schedule.parse(" 0  9 * * * ", SHANGHAI).text == " 0  9 * * * "


@pytest.mark.parametrize(
    ("text", "zone", "after", "expected"),
    [
        ("every 15m", SHANGHAI, FIXED_AS_OF, FIXED_AS_OF + 900),
        ("every 15m", SHANGHAI, FIXED_AS_OF + 1, FIXED_AS_OF + 900),
        ("every 15m", SHANGHAI, FIXED_AS_OF - 1, FIXED_AS_OF),
        ("every 2h", SHANGHAI, FIXED_AS_OF, at(2026, 11, 23, 10, zone=SHANGHAI)),
        ("every 1d", SHANGHAI, FIXED_AS_OF, at(2026, 11, 24, 0, zone=SHANGHAI)),
        ("EVERY 1D", SHANGHAI, FIXED_AS_OF, at(2026, 11, 24, 0, zone=SHANGHAI)),
        ("every 1d", UTC, FIXED_AS_OF, at(2026, 11, 24, 0)),
        # counted in exact durations from midnight (winter time) 2000-01-01
        ("every 1d", BERLIN, at(2026, 1, 10, 12), at(2026, 1, 11, 0, zone=BERLIN)),
        ("every 1d", BERLIN, at(2026, 7, 10, 12), at(2026, 7, 11, 1, zone=BERLIN)),
    ],
)
def test_intervals(text: str, zone: ZoneInfo, after: int, expected: int) -> None:
    assert Schedule.parse(text, zone).next_after(after) == expected


def test_is_due() -> None:
    daily = Schedule.parse("0 9 * * *", SHANGHAI)
    assert daily.is_due(None, FIXED_AS_OF)  # never ran
    assert daily.is_due(FIXED_AS_OF - 86400, FIXED_AS_OF)  # yesterday's run; 09:00 today is due
    assert daily.is_due(FIXED_AS_OF - 1, FIXED_AS_OF)  # the fire time itself counts
    assert not daily.is_due(FIXED_AS_OF, FIXED_AS_OF + 3600)  # already ran at 09:00 today
    assert not daily.is_due(FIXED_AS_OF + 1, FIXED_AS_OF + 86399)
    assert daily.is_due(FIXED_AS_OF + 1, FIXED_AS_OF + 86400)
    quarter_hourly = Schedule.parse("every 15m", SHANGHAI)
    assert not quarter_hourly.is_due(FIXED_AS_OF, FIXED_AS_OF + 899)
    assert quarter_hourly.is_due(FIXED_AS_OF, FIXED_AS_OF + 900)


def test_a_cron_that_never_fires_again() -> None:
    feb_30 = Schedule.parse("0 0 30 2 *", UTC)
    assert feb_30.next_after(FIXED_AS_OF) is None
    assert not feb_30.is_due(FIXED_AS_OF, FIXED_AS_OF + 400 * 86400)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "0 9 * *",
            "'0 9 * *' is not a valid cron expression (5 fields: minute hour day month weekday) "
            "or interval such as 'every 15m'",
        ),
        (
            "",
            "'' is not a valid cron expression (5 fields: minute hour day month weekday) "
            "or interval such as 'every 15m'",
        ),
        (
            "0 9 * * xyz",
            "'0 9 * * xyz' is not a valid cron expression: 'xyz' is not a weekday (0-7 with 0 and 7 Sunday, or mon-sun)",
        ),
        ("every 0m", "'every 0m' is not a valid interval: it must be longer than zero"),
        (
            "every day",
            "'every day' is not a valid interval: write 'every' and a number with a unit "
            "m (minutes), h (hours) or d (days), such as 'every 15m', 'every 2h', 'every 1d'",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Schedule.parse(text, SHANGHAI)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("1", ["Mon"]),
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("6,0", ["Sat", "Sun"]),
        ("5-7", ["Fri", "Sat", "Sun"]),
        ("mon-fri/2", ["Mon", "Wed", "Fri"]),
        ("*/3", ["Sun", "Wed", "Sat"]),
    ],
)
def test_weekdays_mean_what_they_mean_in_crontab(weekdays: str, expected: list[str]) -> None:
    """APScheduler 3 numbers weekdays from 0 = Monday; rule files use crontab's 0 = Sunday."""
    schedule = Schedule.parse(f"0 9 * * {weekdays}", SHANGHAI)
    week = fires(schedule, at(2026, 11, 22, 12, zone=SHANGHAI), len(expected))  # a Sunday noon
    names = sorted({dt.datetime.fromtimestamp(t, SHANGHAI).strftime("%a") for t in week})
    assert names == sorted(expected)
    assert all(dt.datetime.fromtimestamp(t, SHANGHAI).hour == 9 for t in week)


@pytest.mark.parametrize("weekdays", ["8", "fry", "5-2", "*/x"])
def test_bad_weekdays_are_refused(weekdays: str) -> None:
    with pytest.raises(ValueError, match="is not a valid cron expression"):
        Schedule.parse(f"0 9 * * {weekdays}", SHANGHAI)
