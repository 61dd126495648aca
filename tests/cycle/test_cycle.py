"""The set-based cycle: ledger rows, idempotency windows, schedules, dry runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select

from core.app import App
from core.config import Settings
from core.cycle import run_cycle
from core.store import CycleRun, LedgerEntry, Store
from tests.cycle.conftest import add_customer, add_event, at, write_rules

ledger = LedgerEntry.__table__  # type: ignore[attr-defined]

LAPSED_RULE = """
rules:
  - id: lapsed
    description: Lapsed repeat buyers.
    schedule: "0 9 * * *"
    when: purchase_count >= 2 and days_since_last_purchase >= 90
    once_per: {once_per}
    category: marketing
    then:
      - send: {{channel: file, template: care/hello}}
"""


def ledger_rows(store: Store) -> list[tuple[str, str, str]]:
    with store.begin() as conn:
        rows = conn.execute(
            select(ledger.c.rule_id, ledger.c.idempotency_key, ledger.c.status).order_by(
                ledger.c.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def seed_lapsed(store: Store) -> dict[str, int]:
    ids = {
        "lapsed": add_customer(store, "lapsed", name="Ann", email="ann@example.com", locale="en"),
        "active": add_customer(store, "active", name="Bo", email="bo@example.com"),
        "once": add_customer(store, "once", name="Cy", email="cy@example.com"),
    }
    for when in ("2026-01-10T10:00:00", "2026-05-01T10:00:00"):
        add_event(store, ids["lapsed"], "purchase", when, amount=1000)
    for when in ("2026-06-01T10:00:00", "2026-11-20T10:00:00"):
        add_event(store, ids["active"], "purchase", when, amount=1000)
    add_event(store, ids["once"], "purchase", "2026-01-01T10:00:00", amount=500)
    return ids


def test_matches_go_to_the_ledger_once(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    ids = seed_lapsed(store)
    write_rules(settings, LAPSED_RULE.format(once_per="180d"))
    app = make_app()
    rules = app.load_rules()
    as_of = at("2026-11-23T01:00:00")

    first = run_cycle(store, app.registry, settings, rules, as_of)
    assert [(o.rule_id, o.matched, o.new, o.already) for o in first.outcomes] == [
        ("lapsed", 1, 1, 0)
    ]
    assert ledger_rows(store) == [
        ("lapsed", f"lapsed/2026-11-23T01:00:00Z/{ids['lapsed']}/0", "pending")
    ]

    again = run_cycle(store, app.registry, settings, rules, as_of, force=True)
    assert [(o.matched, o.new, o.already) for o in again.outcomes] == [(1, 0, 1)]
    assert len(ledger_rows(store)) == 1


def test_duration_window_blocks_until_it_has_passed(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    seed_lapsed(store)
    write_rules(settings, LAPSED_RULE.format(once_per="30d"))
    app = make_app()
    rules = app.load_rules()
    day = 86400
    start = at("2026-11-23T01:00:00")
    news = [
        run_cycle(store, app.registry, settings, rules, start + k * day, force=True).new
        for k in range(0, 32)
    ]
    assert news[0] == 1
    assert news[1:30] == [0] * 29  # inside the 30-day window
    assert (
        news[30] == 1
    )  # exactly 30 days later the earlier firing is no longer within (as_of - 30d, as_of]
    assert len(ledger_rows(store)) == 2


def test_calendar_period_fires_once_per_year(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    seed_lapsed(store)
    write_rules(settings, LAPSED_RULE.format(once_per="year"))
    app = make_app()
    rules = app.load_rules()
    assert run_cycle(store, app.registry, settings, rules, at("2026-11-23T01:00:00")).new == 1
    assert (
        run_cycle(store, app.registry, settings, rules, at("2026-12-30T01:00:00"), force=True).new
        == 0
    )
    assert (
        run_cycle(store, app.registry, settings, rules, at("2027-01-02T01:00:00"), force=True).new
        == 1
    )
    assert [key.split("/")[1] for _, key, _ in ledger_rows(store)] == ["2026", "2027"]


def test_every_action_gets_its_own_ledger_row(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    ids = seed_lapsed(store)
    write_rules(
        settings,
        """
        rules:
          - id: two-steps
            schedule: "every 1h"
            when: purchase_count >= 1
            once_per: once
            category: care
            then:
              - send: {channel: file, template: care/hello}
              - send: {channel: file, template: care/hello}
        """,
    )
    app = make_app()
    summary = run_cycle(store, app.registry, settings, app.load_rules(), at("2026-11-23T01:00:00"))
    assert summary.new == 3
    keys = sorted(key for _, key, _ in ledger_rows(store))
    assert keys == sorted(f"two-steps/once/{ids[c]}/{i}" for c in ids for i in (0, 1))


def test_every_action_is_written_under_a_duration_window(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    seed_lapsed(store)
    write_rules(
        settings,
        """
        rules:
          - id: two-steps
            schedule: "every 1h"
            when: purchase_count >= 1
            once_per: 7d
            category: care
            then:
              - send: {channel: file, template: care/hello}
              - send: {channel: file, template: care/hello}
        """,
    )
    app = make_app()
    rules = app.load_rules()
    first = run_cycle(store, app.registry, settings, rules, at("2026-11-23T01:00:00"))
    assert (first.new, len(ledger_rows(store))) == (3, 6)
    later = run_cycle(store, app.registry, settings, rules, at("2026-11-25T01:00:00"), force=True)
    assert [(o.matched, o.new, o.already) for o in later.outcomes] == [(3, 0, 3)]
    assert len(ledger_rows(store)) == 6


def test_dry_run_writes_nothing(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    ids = seed_lapsed(store)
    write_rules(settings, LAPSED_RULE.format(once_per="180d"))
    app = make_app()
    summary = run_cycle(
        store, app.registry, settings, app.load_rules(), at("2026-11-23T01:00:00"), dry_run=True
    )
    assert summary.cycle_id is None
    assert [(o.matched, o.new, o.sample) for o in summary.outcomes] == [(1, 1, [ids["lapsed"]])]
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(CycleRun.__table__)).scalar_one() == 0  # type: ignore[attr-defined]


def test_dry_run_knows_what_already_fired(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    seed_lapsed(store)
    write_rules(settings, LAPSED_RULE.format(once_per="year"))
    app = make_app()
    rules = app.load_rules()
    run_cycle(store, app.registry, settings, rules, at("2026-11-23T01:00:00"))
    preview = run_cycle(
        store, app.registry, settings, rules, at("2026-11-24T01:00:00"), dry_run=True
    )
    assert [(o.matched, o.new, o.already) for o in preview.outcomes] == [(1, 0, 1)]


def test_schedule_decides_which_rules_are_due(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    seed_lapsed(store)
    write_rules(
        settings, LAPSED_RULE.format(once_per="1h")
    )  # daily at 09:00 Asia/Shanghai = 01:00 UTC
    app = make_app()
    rules = app.load_rules()
    due = [
        run_cycle(store, app.registry, settings, rules, at(t)).outcomes[0].due
        for t in (
            "2026-11-23T01:30:00",
            "2026-11-23T05:00:00",
            "2026-11-24T00:59:00",
            "2026-11-24T01:00:00",
        )
    ]
    assert due == [True, False, False, True]


def test_disabled_rules_are_not_evaluated(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    seed_lapsed(store)
    write_rules(
        settings,
        LAPSED_RULE.format(once_per="year").replace(
            "category: marketing", "category: marketing\n    enabled: false"
        ),
    )
    app = make_app()
    summary = run_cycle(
        store, app.registry, settings, app.load_rules(), at("2026-11-23T01:00:00"), force=True
    )
    assert summary.outcomes == []
    assert ledger_rows(store) == []


def test_the_already_fired_test_reads_one_index_only(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    # A probe of (rule, customer) that then read each earlier firing's ledger row to test
    # its period took most of a second cycle's member-day offer (644k probes at 1M
    # customers): a period is tested by the first action's unique key, a duration by the
    # (rule, customer, created_at) index, neither needing the row.
    if store.dialect != "sqlite":
        pytest.skip("SQLite's query plan")
    seed_lapsed(store)
    rules_text = LAPSED_RULE.format(once_per="year") + LAPSED_RULE.format(once_per="30d")[
        len("rules:\n") :
    ].replace("id: lapsed", "id: lapsed-window")
    write_rules(settings, rules_text)
    app = make_app()
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("INSERT INTO patron_matches"):
            query = statement[statement.index("SELECT") :]
            cursor.execute(f"EXPLAIN QUERY PLAN {query}", params)
            plans.extend(str(row[3]) for row in cursor.fetchall() if "earlier" in str(row[3]))

    event.listen(store.engine, "before_cursor_execute", explain)
    try:
        summary = run_cycle(
            store, app.registry, settings, app.load_rules(), at("2026-11-23T01:00:00")
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", explain)
    assert [o.new for o in summary.outcomes] == [1, 1]
    assert len(plans) == 2, plans
    assert all("USING COVERING INDEX" in plan for plan in plans), plans


def test_a_cycle_on_postgresql_sorts_and_hashes_in_its_work_mem(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    # The server's 4MB made every sort and hash of the base spill to disk.
    if not store.is_postgres:
        pytest.skip("a PostgreSQL setting")
    seed_lapsed(store)
    write_rules(settings, LAPSED_RULE.format(once_per="year"))
    app = make_app()
    seen: list[str] = []

    def on_ledger(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO ledger") and not seen:
            # A cursor of its own: the cycle reads the insert's rowcount from this one.
            with conn.connection.dbapi_connection.cursor() as own:
                own.execute("SHOW work_mem")
                seen.append(own.fetchone()[0])

    event.listen(store.engine, "after_cursor_execute", on_ledger)
    try:
        run_cycle(store, app.registry, settings, app.load_rules(), at("2026-11-23T01:00:00"))
    finally:
        event.remove(store.engine, "after_cursor_execute", on_ledger)
    assert seen == [settings.cycle_work_mem] == ["256MB"]
    with store.begin() as conn:  # SET LOCAL: the pool's connections keep the server's
        assert conn.exec_driver_sql("SHOW work_mem").scalar_one() != "256MB"
