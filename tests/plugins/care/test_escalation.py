"""The escalation ladder: each level once per ticket, in order; starts, reopenings, VIPs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core.app import build_app
from core.features import feature_rows, normalize
from core.plugins import make_plugin_manager
from core.store import Store
from core.store.ledger_args import ledger_rows
from core.vocabulary import FeatureContext
from tests.cycle.conftest import add_customer, add_event, at
from tests.plugins.care.conftest import Care, ledger, ticket_event, write_section
from tests.stage_columns import ColumnsAfterStage

SECTION = """\
sla:
  profiles:
    - {name: vip, when: spend_total >= 100000, respond_within: 2h, resolve_within: 4h}
    - {name: standard, respond_within: 10h, resolve_within: 20h}
  escalations:
    levels:
      - level: 1
        at: 80% of response
        send: {channel: file, template: service/esc_agent, to: account_manager}
      - level: 2
        at: response breach
        send: {channel: file, template: service/esc_supervisor, to: supervisor}
      - level: 3
        at: resolution breach
        severity: major
        send: {channel: file, template: service/esc_manager, to: manager}
    start:
      - {topic: [account_security, payment], level: 2}
rules:
  - id: overdue-watch
    schedule: "every 1h"
    when: overdue_tickets >= 1 and ticket_escalation_level >= 2
    once_per: once
    category: service
    then:
      - send: {channel: file, template: service/esc_supervisor, to: supervisor}
"""

DAY = "2026-11-23T"


def levels(helper: Care) -> list[str]:
    return [period for _, period, _ in helper.escalations()]


@pytest.fixture
def helper(care: Callable[[], Care]) -> Care:
    built = care()
    write_section(built.settings, SECTION)
    return built


def test_levels_fire_once_each_and_in_order(store: Store, helper: Care) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00", severity="major")
    seen = []
    for hour in (
        "07:00:00",
        "08:00:00",
        "09:00:00",
        "10:00:01",
        "15:00:00",
        "20:00:01",
        "21:00:00",
    ):
        helper.cycle(f"{DAY}{hour}")
        seen.append(levels(helper))
    assert seen == [
        [],
        ["L1#0"],
        ["L1#0"],
        ["L1#0", "L2#0"],
        ["L1#0", "L2#0"],
        ["L1#0", "L2#0", "L3#0"],
        ["L1#0", "L2#0", "L3#0"],
    ]
    assert [t for _, _, t in helper.escalations()] == [
        "service/esc_agent",
        "service/esc_supervisor",
        "service/esc_manager",
    ]
    ticket = helper.ticket()
    assert (ticket["escalation_level"], ticket["escalated_at"]) == (3, at(f"{DAY}20:00:01"))
    assert (ticket["response_breached"], ticket["resolution_breached"]) == (True, True)
    # the features were refreshed in the cycle: the rule saw level 2 when it was reached
    assert helper.fired("overdue-watch") == [(customer, "once")]


def test_ledger_rows_are_service_sends_to_the_levels_recipient(store: Store, helper: Care) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00", ref="A-17")
    helper.cycle(f"{DAY}10:30:00")
    with store.begin() as conn:
        (row,) = ledger_rows(conn, select(ledger).where(ledger.c.rule_id == "sla-escalation"))
    assert row["idempotency_key"] == f"sla-escalation/{customer}/A-17/0/L2"
    assert (row["action"], row["category"], row["status"], row["priority"]) == (
        "send",
        "service",
        "pending",
        0,
    )
    assert row["args"] == {
        "channel": "file",
        "template": "service/esc_supervisor",
        "to": "supervisor",
        "ticket": "A-17",
        "episode": 0,
        "level": 2,
    }


def test_a_late_cycle_fires_only_the_highest_due_level(store: Store, helper: Care) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00")
    helper.cycle(f"{DAY}12:00:00")
    helper.cycle(f"{DAY}13:00:00")
    assert levels(helper) == ["L2#0"]
    assert helper.ticket()["escalation_level"] == 2


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [("resolved", "09:59:59")],
            ["L1#0"],  # the reminder at 80 %, then nothing: resolving is responding
            id="resolved-just-before-the-response-breach",
        ),
        pytest.param(
            [("responded", "07:59:00"), ("resolved", "19:00:00")],
            [],
            id="responded-before-80-percent",
        ),
        pytest.param(
            [("responded", "09:00:00"), ("resolved", "19:59:59")],
            ["L1#0"],
            id="responded-after-the-reminder-resolved-in-time",
        ),
    ],
)
def test_no_escalation_once_the_clock_stopped(
    store: Store, helper: Care, events: list[tuple[str, str]], expected: list[str]
) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00", severity="major")
    for kind, when in events:
        ticket_event(store, customer, kind, f"{DAY}{when}")
    for hour in ("08:00:00", "10:00:01", "20:00:01", "23:00:00"):
        helper.cycle(f"{DAY}{hour}")
    assert levels(helper) == expected
    ticket = helper.ticket()
    assert (ticket["response_breached"], ticket["resolution_breached"]) == (False, False)


def test_listed_topics_start_higher(store: Store, helper: Care) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00", severity="major", topic="payment")
    for hour in ("00:05:00", "08:00:00", "10:00:01", "20:00:01"):
        helper.cycle(f"{DAY}{hour}")
    assert levels(helper) == ["L2#0", "L3#0"]


def test_a_reopened_ticket_restarts_its_clocks_and_its_ladder(store: Store, helper: Care) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00")
    ticket_event(store, customer, "resolved", f"{DAY}11:00:00")
    ticket_event(store, customer, "reopened", "2026-11-24T06:00:00")
    helper.cycle(f"{DAY}08:00:00")  # L1 of the first episode
    helper.cycle(f"{DAY}12:00:00")  # resolved: nothing more
    assert levels(helper) == ["L1#0"]
    helper.cycle("2026-11-24T07:00:00")
    reopened = helper.ticket()
    assert (reopened["episode"], reopened["escalation_level"]) == (1, 0)
    assert reopened["response_due_at"] == at("2026-11-24T16:00:00")
    assert reopened["resolved_at"] is None
    helper.cycle("2026-11-24T14:00:00")
    helper.cycle("2026-11-24T16:00:01")
    assert levels(helper) == ["L1#0", "L1#1", "L2#1"]
    assert helper.ticket()["response_breached"] is True


def test_vip_customers_get_the_faster_profile(store: Store, helper: Care) -> None:
    vip, regular = add_customer(store, "vip"), add_customer(store, "regular")
    add_event(store, vip, "purchase", "2026-10-01T00:00:00", amount=250000)
    for customer in (vip, regular):
        ticket_event(store, customer, "opened", f"{DAY}00:00:00")
    helper.cycle(f"{DAY}02:00:01")
    tickets = {t["customer_id"]: t for t in helper.tickets()}
    assert tickets[vip]["response_profile"] == "vip"
    assert tickets[vip]["response_due_at"] == at(f"{DAY}02:00:00")
    assert tickets[regular]["response_due_at"] == at(f"{DAY}10:00:00")
    assert [(c, p) for c, p, _ in helper.escalations()] == [(vip, "L2#0")]


def test_repeated_and_dry_run_cycles_add_nothing(store: Store, helper: Care) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00")
    dry = helper.cycle(f"{DAY}10:30:00", dry_run=True)
    assert dry.stages["care-sla"] == {"tickets": 1, "escalations_l2": 1}
    assert levels(helper) == [] and helper.tickets() == []
    helper.cycle(f"{DAY}10:30:00")
    helper.cycle(f"{DAY}10:30:00")
    with store.begin() as conn:
        count = conn.execute(select(func.count()).select_from(ledger)).scalar_one()
    assert (levels(helper), count) == (["L2#0"], 2)  # the escalation and the watch rule


def test_tickets_older_than_max_ticket_age_never_escalate(
    store: Store, care: Callable[[], Care]
) -> None:
    helper = care()
    write_section(
        helper.settings,
        SECTION.replace("    levels:\n", "    max_ticket_age: 2d\n    levels:\n", 1),
    )
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", "2026-11-01T00:00:00", ref="old")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00", ref="new")
    helper.cycle(f"{DAY}12:00:00")
    assert [t for _, _, t in helper.escalations()] == ["service/esc_supervisor"]
    assert {t["ref"]: t["escalation_level"] for t in helper.tickets()} == {"new": 2, "old": 0}
    assert helper.ticket("old")["response_breached"] is True  # still counted as missed


def test_without_an_sla_section_tickets_are_tracked_without_deadlines(
    store: Store, care: Callable[[], Care]
) -> None:
    helper = care()
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00", severity="Major", channel="Phone")
    ticket_event(store, customer, "responded", f"{DAY}01:30:00")
    summary = helper.cycle(f"{DAY}12:00:00")
    assert summary.stages["care-sla"] == {"tickets": 1}
    ticket = helper.ticket()
    assert (ticket["severity"], ticket["channel"], ticket["topic"]) == ("major", "phone", None)
    assert (ticket["first_response_at"], ticket["response_due_at"], ticket["escalation_level"]) == (
        at(f"{DAY}01:30:00"),
        None,
        0,
    )


TICKET_COLUMNS = (
    "overdue_tickets",
    "ticket_escalation_level",
    "ticket_ref",
    "last_ticket_breached",
)


def test_the_cycle_table_holds_every_customers_tickets_after_the_stage(
    store: Store, helper: Care
) -> None:
    # The stage refreshes the ticket columns of the customers whose tickets it looked
    # at; everyone's must then equal a fresh computation of the same instant.
    copy = ColumnsAfterStage("care-sla", TICKET_COLUMNS)
    app = build_app(settings=helper.settings, pm=make_plugin_manager(extra=[copy], block=["churn"]))
    app._store = store
    care = Care(app, store, helper.settings)
    ids = [add_customer(store, f"t{i}") for i in range(5)]
    ticket_event(store, ids[0], "opened", f"{DAY}00:00:00", severity="major")
    ticket_event(store, ids[1], "opened", f"{DAY}01:00:00", ref="A", topic="payment")
    ticket_event(store, ids[1], "opened", f"{DAY}02:00:00", ref="B")
    ticket_event(store, ids[2], "opened", f"{DAY}00:00:00")
    ticket_event(store, ids[2], "resolved", f"{DAY}09:30:00")
    ticket_event(store, ids[3], "opened", f"{DAY}03:00:00")
    for hour in ("08:00:00", "10:00:01", "20:00:01"):
        care.cycle(f"{DAY}{hour}")
        ctx = FeatureContext(as_of=at(f"{DAY}{hour}"), settings=care.settings, store=store)
        with store.begin() as conn:
            fresh = feature_rows(conn, app.registry, ctx, ids)
        expected = {cid: tuple(fresh[cid][n] for n in TICKET_COLUMNS) for cid in ids}
        seen = {
            cid: tuple(
                normalize(app.registry.features[n].type, v)
                for n, v in zip(TICKET_COLUMNS, row, strict=True)
            )
            for cid, row in copy.seen.items()
        }
        assert seen == expected, hour
    assert copy.seen[ids[1]][1] >= 2  # the stage escalated within these cycles
