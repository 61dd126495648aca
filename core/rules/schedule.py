"""When a rule is evaluated: a 5-field cron expression or an interval such as ``every 15m``.

Cron expressions are read by APScheduler 3 in the configured time zone, so
``0 9 * * *`` means nine in the morning there, summer time included. The weekday
field means what it means in crontab(5) — 0 and 7 are Sunday, 1 is Monday, names
``mon``–``sun`` — and is translated to weekday names first: APScheduler's own
numbering starts at 0 = Monday, so ``1-5`` handed to it unchanged would run Tuesday
to Saturday. When both the day of the month and the weekday are restricted, both
must hold (crontab would accept either). Intervals
are exact durations counted from midnight, 1 January 2000 in that zone: ``every
15m`` fires at :00, :15, :30 and :45, ``every 1d`` at midnight (at 01:00 during
summer time in zones that have it).

Times are epoch seconds (UTC) throughout; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_INTERVAL = re.compile(r"every\s+(\d+)\s*([mhd])", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
_MAX_SEARCH_STEPS = 10  # guards against a trigger that returns a time not after the instant

HELP = (
    "is not a valid cron expression (5 fields: minute hour day month weekday) "
    "or interval such as 'every 15m'"
)


@dataclass(frozen=True)
class Schedule:
    """A parsed ``schedule:`` value; build it with :meth:`parse`."""

    text: str
    zone: ZoneInfo
    interval: int | None = None  # seconds, for "every ..." schedules
    anchor: int = 0  # epoch seconds every interval is counted from
    trigger: Any = field(default=None, compare=False, repr=False)  # CronTrigger for cron schedules

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> Schedule:
        """Read a cron expression or ``every <n>m|h|d``; raise ValueError saying what is wrong."""
        stripped = " ".join(text.split())
        if stripped.lower().startswith("every"):
            return cls._parse_interval(text, stripped, zone)
        fields = stripped.split(" ")
        if len(fields) != 5:
            raise ValueError(f"'{text}' {HELP}")
        try:
            minute, hour, day, month, weekday = fields
            trigger = CronTrigger(
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=cron_weekdays(weekday),
                timezone=zone,
            )
        except ValueError as exc:
            raise ValueError(
                f"'{text}' is not a valid cron expression: {_lower_first(exc)}"
            ) from None
        return cls(text=text, zone=zone, trigger=trigger)

    @classmethod
    def _parse_interval(cls, text: str, stripped: str, zone: ZoneInfo) -> Schedule:
        match = _INTERVAL.fullmatch(stripped)
        if match is None:
            raise ValueError(
                f"'{text}' is not a valid interval: write 'every' and a number with a unit "
                "m (minutes), h (hours) or d (days), such as 'every 15m', 'every 2h', 'every 1d'"
            )
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        if seconds == 0:
            raise ValueError(f"'{text}' is not a valid interval: it must be longer than zero")
        anchor = int(dt.datetime(2000, 1, 1, tzinfo=zone).timestamp())
        return cls(text=text, zone=zone, interval=seconds, anchor=anchor)

    def next_after(self, instant: int) -> int | None:
        """The first fire time strictly after ``instant`` (epoch seconds); None if there is none."""
        if self.interval is not None:
            steps = (instant - self.anchor) // self.interval + 1
            return self.anchor + steps * self.interval
        after = instant
        for _ in range(_MAX_SEARCH_STEPS):
            start = dt.datetime.fromtimestamp(after + 1, self.zone)
            fire = self.trigger.get_next_fire_time(None, start)
            if fire is None:
                return None
            fire_at = int(fire.timestamp())
            if fire_at > instant:
                return fire_at
            after = max(after + 1, fire_at)
        return None

    def is_due(self, last_as_of: int | None, as_of: int) -> bool:
        """True if the rule never ran, or a fire time t with ``last_as_of < t <= as_of`` exists."""
        if last_as_of is None:
            return True
        fire = self.next_after(last_as_of)
        return fire is not None and fire <= as_of

    def __str__(self) -> str:
        return self.text


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_weekdays(text: str) -> str:
    """A crontab weekday field (``1-5``, ``0,6``, ``*/2``, ``mon-fri``) as APScheduler
    weekday names (``mon,tue,wed,thu,fri``); ``*`` stays ``*``."""
    if text == "*":
        return text
    days: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = int(step_text) if slash and step_text.isdigit() else 1
        if slash and step < 1:
            raise ValueError(f"weekday step '{part}' must be at least 1")
        if slash and not step_text.isdigit():
            raise ValueError(f"weekday step '{part}' is not a number")
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _weekday(first), _weekday(last)
        else:
            low = _weekday(base)
            high = 6 if slash else low  # "5/2": from Friday on, every second day
        if low > high and high != 0:
            raise ValueError(f"weekday range '{base}' runs backwards")
        if high == 0 and low > 0:  # "5-0" or "fri-sun": Sunday written as the end
            high = 7
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(_WEEKDAYS[day] for day in (1, 2, 3, 4, 5, 6, 0) if day in days)


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token) % 7
    name = token[:3].lower()
    if name in _WEEKDAYS:
        return _WEEKDAYS.index(name)
    raise ValueError(f"'{token}' is not a weekday (0-7 with 0 and 7 Sunday, or mon-sun)")


def _lower_first(exc: Exception) -> str:
    text = str(exc)
    return text[:1].lower() + text[1:]
