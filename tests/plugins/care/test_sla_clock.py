"""SLA deadlines: clocks that pause outside business hours, weekends and public holidays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from core.store import Store
from plugins.care.business_hours import WorkingCalendar
from plugins.care.sla_model import CalendarModel
from tests.cycle.conftest import add_customer, at
from tests.plugins.care.conftest import Care, ticket_event, write_section

SHANGHAI = ZoneInfo("Asia/Shanghai")

SECTION = """\
sla:
  calendars:
    office:
      timezone: Asia/Shanghai
      days: [mon, tue, wed, thu, fri]
      hours: ["09:00-12:00", "13:00-18:00"]
      holidays: CN
      extra_holidays: [2026-12-31]
  profiles:
    - {name: email, channel: email, respond_within: 2h, clock: office}
    - {name: major, severity: major, respond_within: 8h, resolve_within: 16h, clock: office}
    - {name: standard, respond_within: 24h, resolve_within: 48h}
"""


def local(text: str) -> int:
    return at(f"{text}+08:00")


@pytest.mark.parametrize(
    ("opened", "payload", "response_due", "resolution_due"),
    [
        pytest.param(
            "2026-11-20T17:00",
            {"channel": "email"},
            "2026-11-23T10:00",
            "2026-11-22T17:00",
            id="email-over-a-weekend",
        ),
        pytest.param(
            "2026-11-23T11:30",
            {"channel": "email"},
            "2026-11-23T14:30",
            "2026-11-25T11:30",
            id="email-over-lunch",
        ),
        pytest.param(
            "2026-11-21T10:00",
            {"channel": "email"},
            "2026-11-23T11:00",
            "2026-11-23T10:00",
            id="opened-on-a-saturday",
        ),
        pytest.param(
            "2026-02-13T17:00",
            {"channel": "email"},
            "2026-02-14T10:00",
            "2026-02-15T17:00",
            id="spring-festival-make-up-saturday-works",
        ),
        pytest.param(
            "2026-02-14T17:30",
            {"channel": "email"},
            "2026-02-24T10:30",
            "2026-02-16T17:30",
            id="spring-festival-week-pauses-the-clock",
        ),
        pytest.param(
            "2026-09-24T17:00",
            {"severity": "major"},
            "2026-09-28T17:00",
            "2026-09-29T17:00",
            id="mid-autumn-then-a-weekend",
        ),
        pytest.param(
            "2026-12-30T17:00",
            {"channel": "email"},
            "2027-01-04T10:00",
            "2027-01-01T17:00",
            id="company-holiday-then-new-year",
        ),
        pytest.param(
            "2026-11-23T18:00",
            {"channel": "email"},
            "2026-11-24T11:00",
            "2026-11-25T18:00",
            id="end-of-day-is-not-a-minute-of-work",
        ),
    ],
)
def test_business_hour_deadlines(
    store: Store,
    care: Callable[[], Care],
    opened: str,
    payload: dict[str, str],
    response_due: str,
    resolution_due: str,
) -> None:
    write_section(care().settings, SECTION)
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{opened}+08:00", **payload)
    helper = care()
    helper.cycle(f"{opened}:01+08:00")
    ticket = helper.ticket()
    assert (ticket["response_due_at"], ticket["resolution_due_at"]) == (
        local(response_due),
        local(resolution_due),
    ), (
        dt.datetime.fromtimestamp(ticket["response_due_at"], SHANGHAI),
        dt.datetime.fromtimestamp(ticket["resolution_due_at"], SHANGHAI),
    )


def test_each_deadline_comes_from_the_first_profile_that_sets_it(
    store: Store, care: Callable[[], Care]
) -> None:
    write_section(care().settings, SECTION)
    customer = add_customer(store, "c1")
    # major by e-mail: the e-mail profile's 2 h response, the major profile's resolution
    ticket_event(
        store, customer, "opened", "2026-11-23T09:00:00+08:00", severity="major", channel="EMAIL"
    )
    helper = care()
    helper.cycle("2026-11-23T09:30:00+08:00")
    ticket = helper.ticket()
    assert (ticket["response_profile"], ticket["resolution_profile"]) == ("email", "major")
    assert ticket["response_due_at"] == local("2026-11-23T11:00")
    assert ticket["resolution_due_at"] == local("2026-11-24T18:00")


def test_a_calendar_lays_out_working_periods_in_its_own_zone() -> None:
    model = CalendarModel(timezone="America/New_York", days=["sun"], hours=["01:00-03:00"])
    calendar = WorkingCalendar.from_model("night", model, "Asia/Shanghai")
    # 2026-03-08: clocks jump from 02:00 to 03:00 in New York, so that night has one hour
    periods = list(calendar.intervals(dt.date(2026, 3, 8), dt.date(2026, 3, 8)))
    assert [(end - start) // 60 for start, end in periods] == [60]
