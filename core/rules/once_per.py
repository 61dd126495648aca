"""How often one rule may fire for one customer: ``once_per:``.

A calendar period (``day``, ``week``, ``month``, ``quarter``, ``year``, in the
configured time zone) or ``once`` gives every firing a *period key*; the ledger's
unique index on (rule, customer, period key) makes a second firing in the same
period impossible, even when two cycles race.

A duration (``30m``, ``12h``, ``7d``, ``2w``) is a sliding window instead: the
cycle refuses to fire when the customer has a firing of the rule within
``lookback_seconds`` before the cycle's instant. Its period key is the instant
itself, so only a re-run of the same cycle collides.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.suggest import did_you_mean

CALENDAR = ("once", "day", "week", "month", "quarter", "year")
_DURATION = re.compile(r"(\d+)\s*([mhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

HELP = "use once, day, week, month, quarter, year or a duration such as 30m, 12h, 7d, 2w"


@dataclass(frozen=True)
class OncePer:
    """A parsed ``once_per:`` value; build it with :meth:`parse`."""

    text: str
    period: str | None  # one of CALENDAR, or None for a duration
    lookback_seconds: int | None  # for durations only

    @classmethod
    def parse(cls, text: str) -> OncePer:
        """Read a period name or a duration; raise ValueError saying what is allowed."""
        word = text.strip().lower()
        if word in CALENDAR:
            return cls(text=text, period=word, lookback_seconds=None)
        match = _DURATION.fullmatch(word)
        if match is None:
            raise ValueError(f"'{text}' is not valid{did_you_mean(word, CALENDAR)}: {HELP}")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        if seconds == 0:
            raise ValueError(f"'{text}' is not valid: a duration must be longer than zero")
        return cls(text=text, period=None, lookback_seconds=seconds)

    def period_key(self, as_of: int, zone: ZoneInfo) -> str:
        """The key that makes a second firing in the same period collide.

        ``once`` → ``once``; ``day`` → ``2026-11-23``; ``week`` → ``2026-W48`` (ISO
        week); ``month`` → ``2026-11``; ``quarter`` → ``2026-Q4``; ``year`` → ``2026``;
        a duration → the instant in UTC, ``2026-11-23T01:00:00Z``.
        """
        if self.period is None:
            return dt.datetime.fromtimestamp(as_of, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.period == "once":
            return "once"
        local = dt.datetime.fromtimestamp(as_of, zone).date()
        if self.period == "day":
            return local.isoformat()
        if self.period == "week":
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        if self.period == "month":
            return f"{local.year}-{local.month:02d}"
        if self.period == "quarter":
            return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
        return f"{local.year}"

    def __str__(self) -> str:
        return self.text
