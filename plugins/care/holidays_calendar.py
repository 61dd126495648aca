"""Public holidays per country, from the ``holidays`` package, in the words rules use.

Holiday names become short keys (``spring_festival``, ``mid_autumn``, ``national_day`` …)
so a condition reads ``days_until_spring_festival == 0`` whatever the country's own
name for it ("Chinese New Year (Spring Festival)", "Lunar New Year", "Korean New Year").
Substitute days off (调休, "Day off (substituted from …)") and "(observed)" days are days
off for business calendars, but not occasions to greet anyone for.

Countries come from the customer (see :mod:`plugins.care.occasions`) or a calendar's
``holidays:`` key; ``country_of_zone`` reads the IANA ``zone.tab`` shipped with tzdata.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import holidays
from holidays import registry

from core.suggest import did_you_mean

# Canonical keys and the English names ``holidays`` uses for them across countries.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "new_year": ("new year's day",),
    "spring_festival_eve": ("chinese new year's eve", "lunar new year's eve"),
    "spring_festival": (
        "chinese new year (spring festival)",
        "chinese new year",
        "lunar new year",
        "korean new year",
        "spring festival",
    ),
    "qingming": ("tomb-sweeping day", "qingming festival", "ching ming festival"),
    "labour_day": ("labor day", "labour day", "international labor day"),
    "dragon_boat": ("dragon boat festival", "tuen ng festival"),
    "mid_autumn": ("mid-autumn festival", "chuseok"),
    "national_day": ("national day",),
    "christmas": ("christmas day", "christmas"),
}
# The keys with a days_until_<key> feature of their own.
TRACKED_KEYS = (
    "new_year",
    "spring_festival",
    "qingming",
    "labour_day",
    "dragon_boat",
    "mid_autumn",
    "national_day",
    "christmas",
)
_BY_NAME = {name: key for key, names in KNOWN_KEYS.items() for name in names}
_SUBSTITUTE = re.compile(r"^(day off|substituted|alternative holiday)", re.IGNORECASE)
_OBSERVED = re.compile(r"\s*\(observed\)\s*$", re.IGNORECASE)


def supported_countries() -> list[str]:
    """ISO 3166 codes (alpha-2 and alpha-3) with public holidays in the installed ``holidays``."""
    return sorted(holidays.list_supported_countries())


def country_suggestion(value: str) -> str:
    """`` (did you mean 'CN'?)`` for a country's name or a near miss of its code."""
    names: dict[str, str] = {}
    for key, entry in registry.COUNTRIES.items():
        names[key.replace("_", " ")] = entry[1]
        names[re.sub(r"(?<!^)(?=[A-Z])", " ", entry[0]).lower()] = entry[1]
    code = names.get(re.sub(r"[\s_]+", " ", value.strip().lower()))
    if code:
        return f" (did you mean '{code}'?)"
    return did_you_mean(value.upper(), supported_countries())


def alpha2(country: str) -> str:
    """``CHN`` → ``CN``; alpha-2 codes (and unknown ones) unchanged."""
    for entry in registry.COUNTRIES.values():
        if len(entry) > 2 and entry[2] == country:
            return str(entry[1])
    return country


def subdivisions(country: str) -> list[str]:
    return sorted(holidays.list_supported_countries().get(alpha2(country), []))


@functools.lru_cache(maxsize=256)
def country_holidays(
    country: str, years: tuple[int, ...], subdivision: str | None = None
) -> holidays.HolidayBase | None:
    """The country's public holidays for ``years`` (in English), or None if unknown."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision, years=years, language="en_US")
    except (NotImplementedError, KeyError, ValueError):
        return None


def make_up_working_days(table: holidays.HolidayBase) -> set[dt.date]:
    """Weekend days that are official working days (China's 调休), when the country has them."""
    return set(getattr(table, "weekend_workdays", ()) or ())


def holiday_key(name: str) -> str | None:
    """The key of one holiday name; None for substitute days off and observed days."""
    if _SUBSTITUTE.match(name) or _OBSERVED.search(name):
        return None
    lowered = name.strip().lower()
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    slug = re.sub(r"[^a-z0-9]+", "_", lowered.replace("'", "")).strip("_")
    return slug or None


@dataclass(frozen=True)
class Occurrence:
    """A run of consecutive days of one holiday (the Spring Festival week)."""

    key: str
    name: str
    first: dt.date
    last: dt.date


def occurrences(table: holidays.HolidayBase) -> list[Occurrence]:
    """Every holiday of ``table`` as runs of consecutive days, by first day."""
    days: dict[str, list[tuple[dt.date, str]]] = {}
    for day, names in sorted(table.items()):
        for name in str(names).split("; "):
            key = holiday_key(name)
            if key is not None:
                days.setdefault(key, []).append((day, name))
    found: list[Occurrence] = []
    for key, dated in days.items():
        start = previous = dated[0][0]
        label = dated[0][1]
        for day, name in dated[1:]:
            if day - previous > dt.timedelta(days=1):
                found.append(Occurrence(key, label, start, previous))
                start, label = day, name
            previous = day
        found.append(Occurrence(key, label, start, previous))
    return sorted(found, key=lambda o: (o.first, o.key))


@dataclass(frozen=True)
class HolidayOutlook:
    """What a customer's country has on and ahead of one local date."""

    holiday_today: str | None
    holiday_today_name: str | None
    next_holiday: str | None
    days_until_next_holiday: int | None
    days_until: dict[str, int | None]  # per TRACKED_KEYS: 0 on the first day


def outlook(country: str, today: dt.date) -> HolidayOutlook | None:
    """Holidays around ``today`` in ``country`` (None when ``holidays`` does not know it)."""
    table = country_holidays(country, (today.year - 1, today.year, today.year + 1))
    if table is None:
        return None
    runs = occurrences(table)
    current = [o for o in runs if o.first <= today <= o.last]
    ahead = [o for o in runs if o.first >= today]
    days_until: dict[str, int | None] = {}
    for key in TRACKED_KEYS:
        first = next((o.first for o in ahead if o.key == key), None)
        days_until[key] = (first - today).days if first else None
    upcoming = ahead[0] if ahead else None
    return HolidayOutlook(
        holiday_today=current[0].key if current else None,
        holiday_today_name=_OBSERVED.sub("", current[0].name) if current else None,
        next_holiday=upcoming.key if upcoming else None,
        days_until_next_holiday=(upcoming.first - today).days if upcoming else None,
        days_until=days_until,
    )


@functools.lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("zone.tab", "zone1970.tab"):
        try:
            text = resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError):
            continue
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) >= 3:
                found.setdefault(parts[2], parts[0].split(",")[0])
    return found


def country_of_zone(zone: str | None) -> str | None:
    """``Asia/Shanghai`` → ``CN``; None for zones of no single country (``UTC``)."""
    return _zone_countries().get(zone or "")


def country_of_locale(locale: str | None) -> str | None:
    """The region of a locale tag: ``zh-CN`` → ``CN``, ``zh-Hant-TW`` → ``TW``, ``en`` → None."""
    if not locale:
        return None
    for part in re.split(r"[-_]", locale)[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return None


def years_between(first: dt.date, last: dt.date) -> Iterable[int]:
    return range(first.year, last.year + 1)
