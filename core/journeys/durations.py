"""Durations written by operators: ``30m``, ``12h``, ``7d``, ``2w``."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+)\s*([mhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
HELP = "use a number and a unit: 30m, 12h, 7d or 2w"


def parse_duration(text: str, *, allow_zero: bool = False) -> int:
    """Seconds in ``text``; raise ValueError in the operator's words otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a duration: {HELP}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds == 0 and not allow_zero:
        raise ValueError(f"'{text}' is not valid: a duration must be longer than zero")
    return seconds
