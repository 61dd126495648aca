"""What ``patron check`` says about an ``sla:`` section beyond its schema.

Each problem is ``(location inside the section, message)``; the engine adds the file,
the line and the ``sla.`` prefix::

    rules/service.yaml:12: sla.profiles[1].resolve_within: 24h is shorter than respond_within 48h ...
    rules/service.yaml:4: sla.calendars.office.holidays: unknown country 'CHN' for public holidays ...
    rules/service.yaml:30: sla.escalations.levels[1].send: level 2 has no recipient ...
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.expr import ExprSyntaxError, parse
from core.expr import check as check_expression
from core.suggest import did_you_mean
from core.vocabulary import SectionCheckEnv
from plugins.care.holidays_calendar import country_suggestion, subdivisions, supported_countries
from plugins.care.sla_model import (
    CalendarModel,
    LevelModel,
    SlaSection,
    TicketFilter,
    work_period,
)

Loc = tuple[str | int, ...]
Found = list[tuple[Loc, str]]


def check_sla(section: SlaSection, env: SectionCheckEnv) -> Found:
    problems: Found = []
    for name, calendar in section.calendars.items():
        problems.extend((("calendars", name, *loc), msg) for loc, msg in _calendar(calendar))
    problems.extend(_profiles(section, env))
    if section.escalations is not None:
        problems.extend(_escalations(section, env))
    return problems


def _calendar(calendar: CalendarModel) -> Found:
    problems: Found = []
    if calendar.timezone is not None:
        try:
            ZoneInfo(calendar.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                (
                    ("timezone",),
                    f"unknown time zone '{calendar.timezone}' (use an IANA name such as Asia/Shanghai)",
                )
            )
    country, region = calendar.country, calendar.region
    if country is not None:
        if country not in supported_countries():
            problems.append(
                (
                    ("holidays",),
                    f"unknown country '{calendar.holidays}' for public holidays"
                    f"{country_suggestion(country)}; use an ISO 3166 code "
                    "such as CN, HK, SG or US",
                )
            )
        elif region and region not in subdivisions(country):
            known = subdivisions(country)
            problems.append(
                (
                    ("subdivision",),
                    f"'{calendar.subdivision}' is not a subdivision of {country}"
                    + (f"; use one of: {', '.join(known)}" if known else " (it has none)"),
                )
            )
    elif region:
        problems.append((("subdivision",), "a subdivision needs 'holidays: <country>'"))
    periods = sorted(work_period(text) for text in calendar.hours)
    for (_, end), (start, _) in itertools.pairwise(periods):
        if start < end:
            problems.append((("hours",), "working periods overlap: " + ", ".join(calendar.hours)))
            break
    both = sorted(set(calendar.extra_holidays) & set(calendar.extra_working_days))
    if both:
        days = ", ".join(d.isoformat() for d in both)
        problems.append((("extra_working_days",), f"{days} also listed under extra_holidays"))
    return problems


def _condition(flt: TicketFilter, env: SectionCheckEnv, where: Loc) -> Found:
    if not flt.when:
        return []
    try:
        expr = parse(flt.when)
    except ExprSyntaxError as exc:
        return [((*where, "when"), exc.message)]
    return [((*where, "when"), p.message) for p in check_expression(expr, env.feature_types)]


def _profiles(section: SlaSection, env: SectionCheckEnv) -> Found:
    problems: Found = []
    seen: dict[str, int] = {}
    for index, profile in enumerate(section.profiles):
        where: Loc = ("profiles", index)
        if profile.name in seen:
            problems.append(
                (
                    (*where, "name"),
                    f"profile '{profile.name}' is defined twice (also profiles[{seen[profile.name]}])",
                )
            )
        seen.setdefault(profile.name, index)
        respond, resolve = profile.respond_seconds, profile.resolve_seconds
        if respond is None and resolve is None:
            problems.append(
                (where, f"profile '{profile.name}' needs respond_within or resolve_within")
            )
        if respond is not None and resolve is not None and resolve < respond:
            problems.append(
                (
                    (*where, "resolve_within"),
                    f"{profile.resolve_within} is shorter than respond_within "
                    f"{profile.respond_within}: a ticket cannot be resolved before the "
                    "response is due; make resolve_within at least as long",
                )
            )
        if profile.clock is not None and profile.clock not in section.calendars:
            known = list(section.calendars)
            problems.append(
                (
                    (*where, "clock"),
                    f"unknown calendar '{profile.clock}'{did_you_mean(profile.clock, known)}; "
                    + (
                        f"define it under calendars: (known: {', '.join(known)})"
                        if known
                        else "define it under calendars:"
                    ),
                )
            )
        problems.extend(_condition(profile, env, where))
    return problems


def _levels_by_number(levels: Iterable[LevelModel]) -> dict[int, int]:
    found: dict[int, int] = {}
    for index, level in enumerate(levels):
        found.setdefault(level.level, index)
    return found


def _escalations(section: SlaSection, env: SectionCheckEnv) -> Found:
    assert section.escalations is not None
    problems: Found = []
    levels = section.escalations.levels
    first = _levels_by_number(levels)
    for index, level in enumerate(levels):
        where: Loc = ("escalations", "levels", index)
        if first[level.level] != index:
            problems.append(
                (
                    (*where, "level"),
                    f"level {level.level} is defined twice (also levels[{first[level.level]}])",
                )
            )
        problems.extend(_recipient(level, env, where))
        problems.extend(_condition(level, env, where))
        trigger = level.trigger
        needs = "respond_within" if trigger.clock == "response" else "resolve_within"
        if not any(getattr(p, needs) for p in section.profiles):
            problems.append(
                ((*where, "at"), f"no profile has {needs}, so '{level.at}' never comes")
            )
    ordered = sorted(levels, key=lambda lv: lv.level)
    for lower, higher in itertools.pairwise(ordered):
        a, b = lower.trigger, higher.trigger
        if a.clock == b.clock and b.percent < a.percent:
            index = levels.index(higher)
            problems.append(
                (
                    ("escalations", "levels", index, "at"),
                    f"level {higher.level} ({higher.at}) would come before level "
                    f"{lower.level} ({lower.at}): higher levels must come later",
                )
            )
    for index, entry in enumerate(section.escalations.start):
        where = ("escalations", "start", index)
        if entry.level not in first:
            known = ", ".join(str(n) for n in sorted(first))
            problems.append(
                ((*where, "level"), f"level {entry.level} is not on the ladder (levels: {known})")
            )
        problems.extend(_condition(entry, env, where))
    return problems


def _staff_role(to: str | None, env: SectionCheckEnv) -> list[str]:
    """An unknown staff role, once staff roles are configured in patron.yaml.

    Without any ``staff:`` the shipped ladder still checks clean; delivery then fails the
    row naming the missing role.
    """
    settings = getattr(getattr(env, "env", None), "settings", None)
    staff = getattr(settings, "staff", None)
    if not staff:
        return []
    from core.delivery.recipients import recipient_problem

    problem = recipient_problem(to, staff)
    return [problem] if problem else []


def _recipient(level: LevelModel, env: SectionCheckEnv, where: Loc) -> Found:
    send = level.send
    problems: Found = []
    if not (send.to or "").strip():
        problems.append(
            (
                (*where, "send"),
                f"level {level.level} has no recipient: add 'to: account_manager' or a staff "
                "role from staff: in patron.yaml, e.g. 'to: supervisor'",
            )
        )
    else:
        problems.extend(((*where, "send", "to"), msg) for msg in _staff_role(send.to, env))
    if send.channel not in env.channel_names:
        problems.append(
            (
                (*where, "send", "channel"),
                f"unknown channel '{send.channel}'{did_you_mean(send.channel, env.channel_names)}",
            )
        )
    else:
        problems.extend(
            ((*where, "send", "template"), message)
            for message in env.template_problems(send.template, send.channel)
        )
    return problems
