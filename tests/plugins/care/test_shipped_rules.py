"""The shipped care rules at work: birthdays, holidays, surveys, cadence, the SLA ladder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from core.app import build_app
from core.config import Settings, StaffMember
from core.store import Store
from core.store.ledger_args import ledger_rows
from tests.cycle.conftest import add_customer, add_event, at
from tests.plugins.care.conftest import Care, care_plugins, ledger, ticket_event

REPO = Path(__file__).resolve().parents[3]
CARE_FILES = ["care.yaml", "service.yaml", "contact_cadence.yaml"]


@pytest.fixture
def shipped(store: Store, settings: Settings) -> Callable[..., Care]:
    """Care over the repository's care rule files and templates (plus tiering's tiers)."""
    staffed = settings.model_copy(
        update={
            "rule_paths": [REPO / "rules" / name for name in [*CARE_FILES, "tiering.yaml"]],
            "template_paths": [REPO / "templates"],
            "staff": {
                role: StaffMember(name=role, email=f"{role}@example.com")
                for role in ("service_desk", "supervisor", "manager")
            },
        }
    )

    def build(*only: str) -> Care:
        app = build_app(settings=staffed, pm=care_plugins())
        app._store = store
        return Care(app, store, staffed, only=only)

    return build


def test_birthdays_in_each_customers_zone_and_on_29_february(
    store: Store, shipped: Callable[..., Care]
) -> None:
    care = shipped("birthday-greeting")

    shanghai = add_customer(
        store,
        "sh",
        timezone="Asia/Shanghai",
        birthday=dt.date(1990, 11, 23),
        birth_month=11,
        birth_day=23,
    )
    new_york = add_customer(
        store,
        "ny",
        timezone="America/New_York",
        birthday=dt.date(1985, 11, 23),
        birth_month=11,
        birth_day=23,
    )
    leap = add_customer(
        store,
        "leap",
        timezone="Asia/Shanghai",
        birthday=dt.date(1996, 2, 29),
        birth_month=2,
        birth_day=29,
    )
    care.cycle("2026-11-23T01:00:00")  # 09:00 in Shanghai, 20:00 on the 22nd in New York
    assert care.fired("birthday-greeting") == [(shanghai, "2026")]
    care.cycle("2026-11-23T14:00:00")  # 22:00 in Shanghai, 09:00 in New York
    care.cycle("2026-11-23T16:30:00")
    assert care.fired("birthday-greeting") == [(shanghai, "2026"), (new_york, "2026")]
    care.cycle("2027-02-28T01:00:00")  # no 29 February in 2027
    assert care.fired("birthday-greeting")[-1] == (leap, "2027")


def test_a_holiday_greeting_goes_out_once_per_holiday_per_year(
    store: Store, shipped: Callable[..., Care]
) -> None:
    care = shipped("spring-festival-greeting", "mid-autumn-greeting", "holiday-greeting")
    customer = add_customer(store, "c1", timezone="Asia/Shanghai")
    for day in (16, 17, 18, 20):  # New Year's Eve, the first days, a day off in lieu
        care.cycle(f"2026-02-{day:02d}T01:00:00")
    care.cycle("2026-09-25T01:00:00")
    care.cycle("2026-09-25T05:00:00")
    for day in (1, 2, 5):  # National Day week
        care.cycle(f"2026-10-{day:02d}T01:00:00")
    care.cycle("2027-02-06T01:00:00")  # the next Spring Festival
    assert care.fired("spring-festival-greeting") == [(customer, "2026"), (customer, "2027")]
    assert care.fired("mid-autumn-greeting") == [(customer, "2026")]
    assert care.fired("holiday-greeting") == [(customer, "2026-10-01")]


def test_a_low_score_opens_a_corrective_task_for_the_owner(
    store: Store, shipped: Callable[..., Care]
) -> None:
    care = shipped("low-score-corrective-task", "low-score-recovery")
    unhappy = add_customer(store, "unhappy", account_manager="Chen")
    content = add_customer(store, "content", account_manager="Chen")
    add_event(store, unhappy, "survey", "2026-11-23T00:00:00", value=2)
    add_event(store, content, "survey", "2026-11-23T00:00:00", value=3)
    care.cycle("2026-11-23T01:00:00")
    care.cycle("2026-11-23T02:00:00")
    with store.begin() as conn:
        rows = ledger_rows(conn, select(ledger).order_by(ledger.c.id))
    assert [(r["rule_id"], r["customer_id"]) for r in rows] == [
        ("low-score-corrective-task", unhappy),
        ("low-score-recovery", unhappy),
    ]
    assert rows[0]["args"] == {
        "channel": "task",
        "template": "service/corrective_task",
        "to": "account_manager",
    }


def test_an_overdue_vip_contact_becomes_a_task_for_the_account_manager(
    store: Store, shipped: Callable[..., Care]
) -> None:
    care = shipped("vip-monthly-contact")
    vip = add_customer(store, "vip", account_manager="Chen", joined_at=at("2024-01-01T00:00:00"))
    called = add_customer(
        store, "called", account_manager="Chen", joined_at=at("2024-01-01T00:00:00")
    )
    for customer in (vip, called):
        add_event(store, customer, "purchase", "2026-10-01T00:00:00", amount=6_000_000)
    add_event(store, vip, "contact", "2026-10-01T00:00:00", payload={"kind": "call"})
    add_event(store, called, "contact", "2026-10-28T00:00:00", payload={"kind": "call"})
    care.cycle("2026-11-02T01:00:00")  # tiers are assigned; the VIP was called 32 days ago
    care.cycle("2026-11-09T01:00:00")  # reminded at most every 14 days
    care.cycle("2026-11-23T01:00:00")
    assert care.fired("vip-monthly-contact") == [
        (vip, "2026-11-02T01:00:00Z"),
        (vip, "2026-11-23T01:00:00Z"),
    ]


def test_the_shipped_ladder_escalates_priority_topics_and_major_issues(
    store: Store, shipped: Callable[..., Care]
) -> None:
    care = shipped("no-rule")  # only the stages run
    customer = add_customer(store, "c1")
    ticket_event(
        store, customer, "opened", "2026-11-23T00:00:00", severity="major", topic="payment"
    )
    ticket_event(store, customer, "responded", "2026-11-23T02:00:00")
    for when in ("2026-11-23T00:10:00", "2026-11-24T12:00:00", "2026-11-25T00:00:01"):
        care.cycle(when)
    assert [(period, template) for _, period, template in care.escalations()] == [
        ("L2#0", "service/escalation_supervisor"),
        ("L3#0", "service/escalation_manager"),
    ]
    ticket = care.ticket()
    assert (ticket["response_profile"], ticket["resolution_profile"]) == ("major", "major")
    assert ticket["resolution_due_at"] == at("2026-11-25T00:00:00")


def test_escalations_become_staff_tasks_for_the_levels_role(
    store: Store, shipped: Callable[..., Care]
) -> None:
    """Delivered through the real task channel: the supervisor gets a task about the ticket."""
    from core.channels.task import StaffTask
    from core.delivery import deliver
    from core.store.tables import table_of

    care = shipped("no-rule")
    customer = add_customer(store, "C-7", name="Wang Fang", locale="en")
    ticket_event(store, customer, "opened", "2026-11-23T00:00:00", ref="T-88", topic="payment")
    care.cycle("2026-11-23T00:05:00")
    summary = deliver(
        store, care.app.registry, care.settings, care.app.catalog, now=at("2026-11-23T00:06:00")
    )
    assert summary.sent == 1
    tasks = table_of(StaffTask)
    with store.begin() as conn:
        task = conn.execute(select(tasks.c.assignee, tasks.c.title, tasks.c.body)).one()
    assert task.assignee == "supervisor"
    # staff read messages in the default locale (zh-CN), whatever the customer's
    assert task.title == "优先工单 T-88：Wang Fang"
    assert "问题类别：支付" in task.body
