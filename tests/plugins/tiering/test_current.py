"""``tier_current``: each customer's latest tier status, kept beside the history
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from core.config import Settings
from core.cycle import CycleSummary
from core.kept_sets import forget_states, stored_state
from core.store import Store
from plugins.tiering.current import STATE_NAME, latest_states, states_in_force
from plugins.tiering.tables import tier_current, tier_states
from tests.cycle.conftest import add_customer, add_event, at
from tests.plugins.tiering.test_stage import day, tiers

Cycle = Callable[..., CycleSummary]
Features = Callable[..., dict[int, dict[str, Any]]]
COLUMNS = [c.name for c in tier_states.columns]
TIER_COLUMNS = ("tier", "previous_tier", "tier_since_days", "tier_change", "tier_downgrade_to")


def copy_rows(store: Store) -> list[tuple[Any, ...]]:
    with store.begin() as conn:
        query = select(*(tier_current.c[n] for n in COLUMNS)).order_by(tier_current.c.customer_id)
        return [tuple(r) for r in conn.execute(query)]


def latest_in_history(store: Store, as_of: int) -> list[tuple[Any, ...]]:
    with store.begin() as conn:
        latest = latest_states(as_of)
        query = select(*(latest.c[n] for n in COLUMNS)).order_by(latest.c.customer_id)
        return [tuple(r) for r in conn.execute(query)]


def busy_history(store: Store, settings: Settings, cycle: Cycle) -> list[int]:
    """Customers whose tiers go up, down (with grace) and back over ten daily cycles."""
    tiers(settings)
    ids = [add_customer(store, f"c{i}") for i in range(5)]
    for i, cid in enumerate(ids):
        add_event(store, cid, "purchase", day(0), amount=400 * i)
    add_event(store, ids[1], "purchase", day(2), amount=900)  # silver -> gold
    add_event(store, ids[3], "refund", day(3), amount=1200)  # gold -> pending silver
    add_event(store, ids[4], "refund", day(4), amount=1500)  # gold -> pending basic
    add_event(store, ids[4], "purchase", day(6), amount=1500)  # ... cancelled
    for n in range(1, 21, 2):
        cycle(day(n))
    return ids


def test_the_copy_holds_each_customers_latest_row_of_the_history(
    store: Store, settings: Settings, cycle: Cycle
) -> None:
    busy_history(store, settings, cycle)
    assert len(latest_in_history(store, at(day(30)))) == 5
    assert copy_rows(store) == latest_in_history(store, at(day(30)))
    with store.begin() as conn:
        state = stored_state(conn, STATE_NAME)
    assert state is not None and state.as_of == at(day(19))
    # more history rows than customers: the copy is not the history
    with store.begin() as conn:
        assert len(conn.execute(select(tier_states)).all()) > 5


def test_features_before_the_copys_instant_come_from_the_history(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    ids = busy_history(store, settings, cycle)
    for n in (1, 3, 5, 9, 19, 25):
        found = features(day(n), ids)
        with store.begin() as conn:
            state = states_in_force(conn, at(day(n)), may_write=False)
            expected = {
                r.customer_id: r.tier
                for r in conn.execute(select(state.c.customer_id, state.c.tier))
            }
            history = latest_states(at(day(n)))
            searched = {
                r.customer_id: r.tier
                for r in conn.execute(select(history.c.customer_id, history.c.tier))
            }
        assert expected == searched, n
        assert {cid: found[cid]["tier"] for cid in ids} == {
            cid: searched.get(cid) for cid in ids
        }, n


def test_a_store_without_the_copy_gets_it_rebuilt_with_the_same_features(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    ids = busy_history(store, settings, cycle)
    before = features(day(21), ids)
    with store.begin() as conn:
        forget_states(conn, [STATE_NAME])
        conn.execute(tier_current.delete())  # as a store written before the copy existed
        # read-only, without the copy: the history answers, nothing is written
        states_in_force(conn, at(day(21)), may_write=False)
        assert stored_state(conn, STATE_NAME) is None
    assert features(day(21), ids) == before
    cycle(day(21))
    assert copy_rows(store) == latest_in_history(store, at(day(30)))
    after = features(day(21), ids)
    assert {c: [after[c][k] for k in TIER_COLUMNS] for c in ids} == {
        c: [before[c][k] for k in TIER_COLUMNS] for c in ids
    }


def test_a_cycle_at_an_earlier_instant_leaves_the_later_rows_in_the_copy(
    store: Store, settings: Settings, cycle: Cycle
) -> None:
    tiers(settings)
    cid = add_customer(store, "late")
    add_event(store, cid, "purchase", day(0), amount=1500)
    cycle(day(10))  # gold from day 10
    add_event(store, add_customer(store, "early"), "purchase", day(0), amount=150)
    cycle(day(5))  # a backtest-like cycle: the new customer's first row is from day 5
    assert copy_rows(store) == latest_in_history(store, at(day(30)))
    with store.begin() as conn:
        state = stored_state(conn, STATE_NAME)
    assert state is not None and state.as_of == at(day(10))


def test_a_repeated_cycle_keeps_the_row_written_first(
    store: Store, settings: Settings, cycle: Cycle
) -> None:
    tiers(settings)
    cid = add_customer(store, "twice")
    add_event(store, cid, "purchase", day(0), amount=150)
    cycle(day(1))
    add_event(store, cid, "purchase", day(1), amount=900)  # dated before the instant
    cycle(day(1))  # the history keeps the first row at day 1: so does the copy
    assert copy_rows(store) == latest_in_history(store, at(day(30)))
    assert [r[COLUMNS.index("tier")] for r in copy_rows(store)] == ["silver"]
