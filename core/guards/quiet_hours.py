"""Quiet hours: a daily window, in the customer's own time zone, in which a channel is silent.

::

    delivery:
      quiet_hours: {sms: "21:00-08:00", email: "23:00-07:00"}

A message due inside the window is deferred to the window's end, local time (DST
included), not dropped; if that is past its delivery deadline it expires instead.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.config import QuietHours


def inside(window: QuietHours, minute_of_day: int) -> bool:
    if window.start < window.end:
        return window.start <= minute_of_day < window.end
    return minute_of_day >= window.start or minute_of_day < window.end  # across midnight


def quiet_until(window: QuietHours, now: int, zone: ZoneInfo) -> int | None:
    """The next allowed instant when ``now`` falls inside the window, else None."""
    local = dt.datetime.fromtimestamp(now, zone)
    minute = local.hour * 60 + local.minute
    if not inside(window, minute):
        return None
    day = local.date()
    if minute >= window.end:  # the window ends tomorrow
        day += dt.timedelta(days=1)
    end = dt.datetime(day.year, day.month, day.day, window.end // 60, window.end % 60, tzinfo=zone)
    return max(int(end.timestamp()), now + 1)


def show_local(instant: int, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(instant, zone).strftime("%Y-%m-%d %H:%M %z")


def quiet_hours_reason(window: QuietHours, until: int, zone: ZoneInfo) -> str:
    return f"quiet hours {window} ({zone.key}): deferred to {show_local(until, zone)}"


__all__ = ["inside", "quiet_hours_reason", "quiet_until", "show_local"]
