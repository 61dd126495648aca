"""A cycle refreshes only the tickets of customers whose tickets may have changed, and
the result is the one a look at every ticket gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select

from core.config import Settings
from core.store import KeptSet, Store
from core.store.tables import table_of
from core.vocabulary import FeatureContext
from plugins.care.ticket_changes import STATE_NAME, changed_table, customers_to_refresh
from tests.cycle.conftest import add_customer, at
from tests.plugins.care.conftest import Care, ticket_event, write_section
from tests.plugins.care.test_escalation import SECTION

kept_sets = table_of(KeptSet)
DAY = "2026-11-23T"


@pytest.fixture
def helper(care: Callable[[], Care]) -> Care:
    built = care()
    write_section(built.settings, SECTION)
    return built


def _state(helper: Care) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    return helper.tickets(), helper.escalations()


def _forget_refresh(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(delete(kept_sets).where(kept_sets.c.name == STATE_NAME))


def _customers(
    store: Store, settings: Settings, when: str, *, read_only: bool = False
) -> set[int] | None:
    ctx = FeatureContext(as_of=at(when), settings=settings, store=store, read_only=read_only)
    with store.engine.connect() as conn, conn.begin():
        found = customers_to_refresh(conn, ctx)
        if found is None:
            return None
        return set(conn.execute(select(changed_table().c.customer_id)).scalars())


def test_each_cycle_leaves_what_a_look_at_every_ticket_leaves(store: Store, helper: Care) -> None:
    quiet, open_, late, ahead, reopened = (
        add_customer(store, name) for name in ("quiet", "open", "late", "ahead", "reopened")
    )
    ticket_event(store, quiet, "opened", f"{DAY}00:00:00")
    ticket_event(store, quiet, "resolved", f"{DAY}01:00:00")
    ticket_event(store, open_, "opened", f"{DAY}00:00:00", severity="major")
    ticket_event(store, late, "opened", f"{DAY}00:00:00")
    ticket_event(store, late, "responded", f"{DAY}00:30:00")
    ticket_event(store, late, "resolved", f"{DAY}01:00:00")
    ticket_event(store, reopened, "opened", f"{DAY}00:00:00")
    ticket_event(store, reopened, "resolved", f"{DAY}02:00:00")
    # imported before the first cycle, dated after it: it becomes due on its own
    ticket_event(store, ahead, "opened", f"{DAY}09:00:00", topic="payment")

    def step(when: str) -> None:
        helper.cycle(when)
        incremental = _state(helper)
        _forget_refresh(store)
        helper.cycle(when)  # the same instant, every ticket looked at
        assert _state(helper) == incremental, when

    step(f"{DAY}03:00:00")
    assert _customers(store, helper.settings, f"{DAY}08:00:00") == {open_}
    step(f"{DAY}08:00:00")
    # a late event, dated before the last cycle's instant, imported after it
    ticket_event(store, late, "reopened", f"{DAY}07:00:00")
    assert _customers(store, helper.settings, f"{DAY}10:00:01") == {open_, late, ahead}
    step(f"{DAY}10:00:01")
    ticket_event(store, reopened, "reopened", f"{DAY}12:00:00")
    step(f"{DAY}20:00:01")
    step("2026-11-24T08:00:00")
    tickets = {t["customer_id"]: t for t in helper.tickets()}
    assert tickets[late]["episode"] == 1 and tickets[reopened]["episode"] == 1
    assert tickets[ahead]["escalation_level"] >= 2
    assert {c for c, _, _ in helper.escalations()} >= {open_, late, ahead, reopened}


def test_every_ticket_is_looked_at_without_a_recorded_refresh_or_back_in_time(
    store: Store, helper: Care
) -> None:
    customer = add_customer(store, "c1")
    ticket_event(store, customer, "opened", f"{DAY}00:00:00")
    ticket_event(store, customer, "resolved", f"{DAY}01:00:00")
    assert _customers(store, helper.settings, f"{DAY}02:00:00") is None
    helper.cycle(f"{DAY}02:00:00")
    assert _customers(store, helper.settings, f"{DAY}03:00:00") == set()
    assert _customers(store, helper.settings, f"{DAY}01:30:00") is None  # a backtest
    assert _customers(store, helper.settings, f"{DAY}03:00:00", read_only=True) is None
    dry = helper.cycle(f"{DAY}04:00:00", dry_run=True)
    assert dry.stages["care-sla"] == {"tickets": 0}
