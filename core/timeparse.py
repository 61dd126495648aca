"""Parsing and showing instants for operators."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.errors import UserError


def parse_instant(text: str, zone: ZoneInfo) -> int:
    """``2026-11-23``, ``2026-11-23 09:30`` or an ISO datetime with offset, to epoch seconds.

    A date alone means its midnight, and a time without an offset is in ``zone``.
    """
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1) if " " in value else value)
    except ValueError:
        raise UserError(
            f"'{text}' is not a date or time (use 2026-11-23, 2026-11-23T09:30 or 2026-11-23T09:30+08:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return int(parsed.timestamp())


def show_instant(epoch: int, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M %Z")
