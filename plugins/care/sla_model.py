"""The ``sla:`` section of rule files: business calendars, SLA profiles, escalation ladder.

Validated by these pydantic models (unknown keys are errors, located by file and line),
then by :func:`plugins.care.sla_check.check_sla` for what a schema cannot say. The
shipped defaults (``rules/service.yaml``) follow SEEDS §5.2::

    sla:
      calendars:
        office:
          days: [mon, tue, wed, thu, fri]
          hours: ["09:00-12:00", "13:00-18:00"]
          holidays: CN                 # public holidays and make-up working days (调休)
      profiles:                        # tried in order, for each deadline separately
        - {name: vip, when: 'tier == "vip"', severity: normal, respond_within: 4h, resolve_within: 12h}
        - {name: email, channel: email, respond_within: 2h, clock: office}
        - {name: major, severity: major, respond_within: 48h, resolve_within: 48h}
        - {name: complex, severity: complex, respond_within: 48h, resolve_within: 72h}
        - {name: standard, respond_within: 24h, resolve_within: 24h}
      escalations:
        levels:
          - {level: 1, at: 80% of response, send: {channel: task, template: service/escalation_agent, to: service_desk}}
          - {level: 2, at: response breach, send: {channel: task, template: service/escalation_supervisor, to: supervisor}}
          - {level: 3, at: resolution breach, severity: major, send: {channel: task, template: service/escalation_manager, to: manager}}
        start:
          - {topic: [account_security, payment, product_fault], level: 2}

Profiles are tried in order, separately for each deadline: the response deadline comes
from the first profile that matches the ticket and has ``respond_within``, the resolution
deadline from the first that matches and has ``resolve_within``. So ``email`` above sets
the response of an e-mailed ticket, and its severity's profile still sets the resolution;
a profile without filters at the end catches every other ticket.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_AT = re.compile(
    r"^\s*(?:(?P<pct>\d+(?:\.\d+)?)\s*%\s*of\s+(?P<clock>response|resolution)"
    r"|(?P<breach>response|resolution)\s+breach)\s*$"
)


def duration_seconds(text: str) -> int:
    """``30m``, ``2h``, ``1.5d``, ``2w`` as whole seconds; ValueError when unreadable."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError("expected a duration such as 30m, 2h, 1.5d or 2w")
    seconds = round(float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return seconds


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        duration_seconds(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write a duration with its unit, such as 24h or 2d")
    return value


def _as_list(value: Any) -> Any:
    """``severity: major`` is short for ``severity: [major]``."""
    return [value] if isinstance(value, str) else value


Duration = Annotated[str, BeforeValidator(_duration)]
Names = Annotated[
    list[str] | None, BeforeValidator(_as_list, json_schema_input_type=str | list[str] | None)
]


def work_period(text: str) -> tuple[int, int]:
    """``09:00-18:00`` as seconds after local midnight ``(32400, 64800)``; ``24:00`` ends a day."""
    match = _HOURS.match(text)
    if match is None:
        raise ValueError("expected working hours such as '09:00-18:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError("hours are 00:00 to 24:00")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if end <= start:
        raise ValueError("the end of working hours must be after their start")
    return start, end


def _hours(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                work_period(item)
    return value


@dataclass(frozen=True)
class Trigger:
    """When an escalation level is due: ``percent`` of the ``clock``'s target after the start."""

    clock: Literal["response", "resolution"]
    percent: float

    @property
    def per_mille(self) -> int:
        return round(self.percent * 10)


def parse_trigger(text: str) -> Trigger:
    match = _AT.match(text)
    if match is None:
        raise ValueError(
            "expected '80% of response', '50% of resolution', 'response breach' or 'resolution breach'"
        )
    if match.group("breach"):
        return Trigger(match.group("breach"), 100.0)  # type: ignore[arg-type]
    percent = float(match.group("pct"))
    if percent <= 0:
        raise ValueError("the percentage must be above 0")
    return Trigger(match.group("clock"), percent)  # type: ignore[arg-type]


def _trigger(value: Any) -> Any:
    if isinstance(value, str):
        parse_trigger(value)
    return value


class TicketFilter(BaseModel):
    """Which tickets something applies to; an absent filter matches every ticket."""

    model_config = ConfigDict(extra="forbid")

    severity: Names = Field(default=None, description="Severities: normal, major, complex ...")
    channel: Names = Field(
        default=None, description="Channels the ticket came in on: email, phone ..."
    )
    topic: Names = Field(
        default=None, description="Topics: account_security, payment, product_fault ..."
    )
    when: str | None = Field(
        default=None,
        description="A condition over the customer's features, e.g. 'tier == \"vip\"'.",
    )


class CalendarModel(BaseModel):
    """Working days and hours; the SLA clock of a profile using it pauses outside them."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(
        default=None, description="IANA zone of the hours (default: timezone of patron.yaml)."
    )
    days: list[Weekday] = Field(
        default_factory=lambda: list(WORKWEEK),
        min_length=1,
        description="Working weekdays.",
    )
    hours: Annotated[list[str], BeforeValidator(_hours, json_schema_input_type=str | list[str])] = (
        Field(
            default_factory=lambda: ["09:00-18:00"],
            min_length=1,
            description="Working periods of a working day, e.g. ['09:00-12:00', '13:00-18:00'].",
        )
    )
    holidays: str | None = Field(
        default=None,
        description="ISO country code whose public holidays are days off (the holidays "
        "package), e.g. CN; official make-up working days (调休) then count as working days.",
    )
    subdivision: str | None = Field(
        default=None, description="A state or province of that country, e.g. US: CA."
    )
    extra_holidays: list[dt.date] = Field(
        default_factory=list, description="Further days off (company holidays)."
    )
    extra_working_days: list[dt.date] = Field(
        default_factory=list, description="Further working days (e.g. a Saturday)."
    )

    @property
    def country(self) -> str | None:
        return self.holidays.strip().upper() if self.holidays else None

    @property
    def region(self) -> str | None:
        return self.subdivision.strip().upper() if self.subdivision else None


class ProfileModel(TicketFilter):
    """Response and resolution targets for the tickets matching the filters."""

    name: str = Field(pattern=NAME_PATTERN, description="A name for reports and messages.")
    description: str = ""
    respond_within: Duration | None = Field(
        default=None, description="First response target after the ticket (re)opened: 24h."
    )
    resolve_within: Duration | None = Field(
        default=None, description="Resolution target after the ticket (re)opened: 48h."
    )
    clock: str | None = Field(
        default=None,
        description="A calendar name: the clock runs only in its working hours. "
        "Absent: around the clock.",
    )

    @property
    def respond_seconds(self) -> int | None:
        return duration_seconds(self.respond_within) if self.respond_within else None

    @property
    def resolve_seconds(self) -> int | None:
        return duration_seconds(self.resolve_within) if self.resolve_within else None


class Recipient(BaseModel):
    """Where an escalation goes: ``send`` arguments with a staff recipient."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(description="task, email, webhook ... (a staff channel).")
    template: str = Field(description="e.g. service/escalation_supervisor")
    to: str | None = Field(
        default=None,
        description="'account_manager' or a staff role under staff: in patron.yaml (supervisor).",
    )


class LevelModel(TicketFilter):
    """One rung of the escalation ladder."""

    level: int = Field(ge=1, le=9, strict=True, description="1, 2, 3 ...; fires once per ticket.")
    at: Annotated[str, BeforeValidator(_trigger)] = Field(
        description="'80% of response', 'response breach', 'resolution breach' ..."
    )
    send: Recipient

    @property
    def trigger(self) -> Trigger:
        return parse_trigger(self.at)


class StartModel(TicketFilter):
    """Tickets matching the filters start at ``level``: it fires as soon as they open."""

    level: int = Field(ge=1, le=9, strict=True)


class EscalationsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: list[LevelModel] = Field(min_length=1)
    start: list[StartModel] = Field(default_factory=list)
    max_ticket_age: Duration | None = Field(
        default=None,
        description="Tickets (re)opened longer ago than this never escalate, e.g. 30d: "
        "history imported when patron is installed does not flood the supervisors.",
    )

    @property
    def max_age_seconds(self) -> int | None:
        return duration_seconds(self.max_ticket_age) if self.max_ticket_age else None


class SlaSection(BaseModel):
    """The ``sla:`` section."""

    model_config = ConfigDict(extra="forbid")

    calendars: dict[str, CalendarModel] = Field(default_factory=dict)
    profiles: list[ProfileModel] = Field(min_length=1)
    escalations: EscalationsModel | None = None

    def calendar(self, name: str | None) -> CalendarModel | None:
        return self.calendars.get(name) if name else None
