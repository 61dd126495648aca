"""Journeys in the cycle: durable waits, conversions, holdout, re-entry, exactly-once steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core.app import App
from core.hookspecs import hookimpl
from core.journeys.holdout import holdout_bucket
from core.journeys.tables import enrollments
from core.plugins import make_plugin_manager
from core.store import LedgerEntry, Store
from core.store.ledger_args import ledger_rows
from core.store.tables import table_of
from core.vocabulary import CycleStage, StageContext
from tests.cycle.conftest import add_customer, add_event, at
from tests.journeys.conftest import OTHER_PLUGINS, cycle, journey_state, messages, step_outcomes

ledger = table_of(LedgerEntry)
AppFactory = Callable[..., App]

TWO_MESSAGES = """
journeys:
  - id: wb
    enroll_when: purchase_count >= 1 and days_since_last_purchase >= 30
    exit_when: purchases_since_enrollment > 0
    stop_when: open_complaints > 0
    holdout_percent: {holdout}
    reentry: {reentry}
    category: marketing
    priority: 30
    steps:
      - send: {{channel: file, template: churn/a}}
      - wait: 7d
      - send: {{channel: file, template: churn/b}}
      - wait: 7d
"""


def rules(holdout: int = 0, reentry: str = "never") -> str:
    return TWO_MESSAGES.format(holdout=holdout, reentry=reentry)


def buyer(store: Store, name: str, when: str = "2026-01-01T00:00:00") -> int:
    customer = add_customer(store, name, name=name)
    add_event(store, customer, "purchase", when, amount=1000)
    return customer


def test_steps_wait_across_restarts_and_the_journey_completes(
    store: Store, journey_app: AppFactory
) -> None:
    customer = buyer(store, "ann")
    cycle(journey_app(rules()), "2026-03-01T01:00:00")
    assert messages(store) == [("journey:wb", customer, 0, "churn/a")]
    for when in ("2026-03-05T01:00:00", "2026-03-08T00:59:59"):
        cycle(journey_app(), when)  # a fresh app each time: a restarted daemon
    assert len(messages(store)) == 1
    cycle(journey_app(), "2026-03-08T01:00:00")  # exactly 7 days after the first step
    assert messages(store)[-1] == ("journey:wb", customer, 2, "churn/b")
    cycle(journey_app(), "2026-03-15T01:00:00")
    (state,) = journey_state(store)
    assert (state["status"], state["step"], state["ended_at"]) == (
        "completed",
        4,
        at("2026-03-15T01:00:00"),
    )
    with store.begin() as conn:
        (row,) = ledger_rows(conn, select(ledger).where(ledger.c.action_index == 2))
    assert (row["idempotency_key"], row["category"], row["priority"], row["status"]) == (
        f"journey:wb/{state['id']}/2",
        "marketing",
        30,
        "pending",
    )
    assert row["args"] == {"channel": "file", "template": "churn/b", "to": None}


def test_a_purchase_converts_with_its_time_and_amount(
    store: Store, journey_app: AppFactory
) -> None:
    customer, other = buyer(store, "ann"), buyer(store, "bob")
    app = journey_app(rules())
    cycle(app, "2026-03-01T01:00:00")
    add_event(store, customer, "purchase", "2026-03-04T08:00:00", amount=2500)
    add_event(store, customer, "purchase", "2026-03-04T09:00:00", amount=500)
    add_event(store, customer, "refund", "2026-03-04T10:00:00", amount=200)
    summary = cycle(app, "2026-03-05T01:00:00")
    assert summary.stages["journeys"]["converted"] == 1
    converted, waiting = journey_state(store)
    assert (converted["status"], converted["converted_at"], converted["conversion_amount"]) == (
        "converted",
        at("2026-03-04T08:00:00"),
        2800,
    )
    assert (waiting["customer_id"], waiting["status"]) == (other, "active")
    cycle(app, "2026-03-09T01:00:00")
    assert [m[1:3] for m in messages(store)] == sorted([(customer, 0), (other, 0), (other, 2)])


def test_stop_when_ends_without_a_conversion(store: Store, journey_app: AppFactory) -> None:
    customer = buyer(store, "ann")
    app = journey_app(rules())
    cycle(app, "2026-03-01T01:00:00")
    add_event(store, customer, "complaint_opened", "2026-03-02T00:00:00", ref="T1")
    cycle(app, "2026-03-03T01:00:00")
    (state,) = journey_state(store)
    assert (state["status"], state["converted_at"]) == ("exited", None)


def test_holdout_is_recorded_stable_and_gets_no_messages(
    store: Store, journey_app: AppFactory
) -> None:
    ids = [buyer(store, f"c{i}") for i in range(40)]
    app = journey_app(rules(holdout=50))
    for when in ("2026-03-01T01:00:00", "2026-03-01T01:00:00", "2026-03-08T01:00:00"):
        cycle(app, when)
    state = journey_state(store)
    arms = {row["customer_id"]: row["arm"] for row in state}
    expected = {cid: "holdout" if holdout_bucket("wb", cid) < 50 else "treatment" for cid in ids}
    assert arms == expected
    assert 10 <= sum(a == "holdout" for a in arms.values()) <= 30
    sent_to = {m[1] for m in messages(store)}
    assert sent_to == {cid for cid, arm in arms.items() if arm == "treatment"}
    assert len(messages(store)) == 2 * len(sent_to)
    by_enrollment = {row["id"]: row["arm"] for row in state}
    for enrollment_id, step, outcome in step_outcomes(store):
        if step in (0, 2):
            assert outcome == ("held_out" if by_enrollment[enrollment_id] == "holdout" else "sent")
    assert {row["step"] for row in state} == {3}  # both arms advanced alike


class CrashAfterJourneys:
    """A stage after the journeys stage that fails once: the cycle must roll back."""

    def __init__(self) -> None:
        self.armed = True

    def run(self, stage: StageContext) -> dict[str, int]:
        if self.armed:
            self.armed = False
            raise RuntimeError("power cut")
        return {}

    @hookimpl
    def patron_cycle_stages(self) -> list[CycleStage]:
        return [CycleStage("crash", self.run, after=("journeys",))]


def test_no_step_is_repeated_after_a_crash_or_a_rewound_state(
    store: Store, journey_app: AppFactory
) -> None:
    customers = [buyer(store, name) for name in ("ann", "bob")]
    crash = CrashAfterJourneys()
    app = journey_app(rules(), pm=make_plugin_manager(extra=[crash], block=OTHER_PLUGINS))
    assert list(app.registry.cycle_stages.items)[-2:] == ["journeys", "crash"]
    with pytest.raises(RuntimeError, match="power cut"):
        cycle(app, "2026-03-01T01:00:00")
    assert (journey_state(store), messages(store)) == ([], [])
    cycle(app, "2026-03-01T01:00:00")
    cycle(app, "2026-03-01T01:00:00")  # the same cycle again
    assert [m[1:3] for m in messages(store)] == [(c, 0) for c in customers]
    with store.begin() as conn:  # a restored backup, a bad manual edit: back to step 0
        conn.execute(update(enrollments).values(step=0, step_due_at=at("2026-03-01T01:00:00")))
    cycle(app, "2026-03-02T01:00:00")
    assert [m[1:3] for m in messages(store)] == [(c, 0) for c in customers]
    assert {row["step"] for row in journey_state(store)} == {1}


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [("never", [1, 1, 1]), ("after 10d", [1, 1, 2])],
)
def test_reentry_policy(
    store: Store, journey_app: AppFactory, reentry: str, expected: list[int]
) -> None:
    buyer(store, "ann")
    short = rules(holdout=0, reentry=reentry).replace(
        "      - wait: 7d\n      - send: {channel: file, template: churn/b}\n      - wait: 7d\n", ""
    )
    app = journey_app(short)
    counts = []
    for when in ("2026-03-01T01:00:00", "2026-03-06T01:00:00", "2026-03-12T01:00:00"):
        cycle(app, when)
        counts.append(len(journey_state(store)))
    assert counts == expected
    assert {row["arm"] for row in journey_state(store)} == {"treatment"}


BRANCHES = """
journeys:
  - id: survey
    enroll_when: purchase_count >= 1
    category: care
    steps:
      - wait_until: last_survey_score >= 1
        timeout: 10d
      - if: last_survey_score >= 4
        then:
          - send: {channel: file, template: churn/b}
        else:
          - send: {channel: file, template: churn/c}
"""


def test_wait_until_meets_or_times_out_and_branches(store: Store, journey_app: AppFactory) -> None:
    happy, silent = buyer(store, "happy"), buyer(store, "silent")
    app = journey_app(BRANCHES)
    cycle(app, "2026-03-01T01:00:00")
    add_event(store, happy, "survey", "2026-03-03T00:00:00", value=5)
    cycle(app, "2026-03-04T01:00:00")
    assert messages(store) == [("journey:survey", happy, 2, "churn/b")]
    cycle(app, "2026-03-11T00:59:59")
    assert len(messages(store)) == 1
    cycle(app, "2026-03-11T01:00:00")
    assert messages(store)[-1] == ("journey:survey", silent, 3, "churn/c")
    outcomes = [o for _e, _s, o in step_outcomes(store)]
    assert sorted(outcomes) == sorted(["met", "then", "sent", "timed_out", "else", "sent"])
    assert {row["status"] for row in journey_state(store)} == {"completed"}


def test_a_dry_run_writes_nothing(store: Store, journey_app: AppFactory) -> None:
    buyer(store, "ann")
    summary = cycle(journey_app(rules()), "2026-03-01T01:00:00", dry_run=True)
    assert summary.stages["journeys"]["enrolled"] == 1
    assert summary.stages["journeys"]["messages"] == 1
    with store.begin() as conn:
        counted: Any = conn.execute(select(func.count()).select_from(enrollments)).scalar_one()
    assert (counted, messages(store)) == (0, [])


def test_journey_messages_are_delivered_by_the_outbox(
    store: Store, journey_app: AppFactory
) -> None:
    from core.delivery import deliver

    customer = add_customer(store, "ann", name="ann", email="ann@example.com")
    add_event(store, customer, "purchase", "2026-01-01T00:00:00", amount=1000)
    app = journey_app(rules())
    cycle(app, "2026-03-01T01:00:00")
    delivered = deliver(
        store, app.registry, app.settings, app.catalog, now=at("2026-03-01T01:05:00")
    )
    assert (delivered.sent, delivered.failed) == (1, 0)
    with store.begin() as conn:
        row = conn.execute(select(ledger.c.status, ledger.c.customer_id)).one()
    assert tuple(row) == ("sent", customer)
    written = list(app.settings.outbox_dir.rglob("*"))
    assert any("churn/a ann" in p.read_text() for p in written if p.is_file())
