"""When a rule is evaluated: a 5-field cron expression or an interval such as ``every 15m``.

Cron expressions are read by APScheduler 3 in the configured time zone, so
``0 9 * * *`` means nine in the morning there, summer time included. Intervals
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
            trigger = CronTrigger.from_crontab(stripped, timezone=zone)
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


def _lower_first(exc: Exception) -> str:
    text = str(exc)
    return text[:1].lower() + text[1:]
