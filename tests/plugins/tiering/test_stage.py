"""Tier assignment and hysteresis on constructed histories (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from core.app import build_app
from core.config import Settings
from core.cycle import CycleSummary, run_cycle
from core.features import feature_rows
from core.plugins import make_plugin_manager
from core.store import Event, Store
from core.store.tables import table_of
from core.vocabulary import FeatureContext
from plugins.tiering.tables import tier_states
from tests.cycle.conftest import add_customer, add_event, at, write_rules
from tests.plugins.tiering.conftest import OTHER_PLUGINS, rows
from tests.stage_columns import ColumnsAfterStage

events = table_of(Event)
TIERS = """
    tiers:
      grace: 10d
      levels:
        - name: gold
          when: spend_total >= 1000
        - name: silver
          when: spend_total >= 100
          grace: {silver_grace}
        - name: basic
    rules: []
"""
Cycle = Callable[..., CycleSummary]
Features = Callable[..., dict[int, dict[str, Any]]]


def day(n: int) -> str:
    """An ISO instant ``n`` days after 1 February 2026."""
    return (dt.datetime(2026, 2, 1) + dt.timedelta(days=n)).isoformat()


def tiers(settings: Settings, silver_grace: str = "10d") -> None:
    write_rules(settings, TIERS.format(silver_grace=silver_grace))


def state(features: Features, when: str, cid: int) -> dict[str, Any]:
    row = features(when, [cid])[cid]
    keys = ("tier", "previous_tier", "tier_change", "tier_changed_to", "tier_changed_from")
    found = {k: row[k] for k in keys}
    found["days_until_downgrade"] = row["days_until_downgrade"]
    found["tier_downgrade_to"] = row["tier_downgrade_to"]
    return found


def tier_events(store: Store) -> list[tuple[Any, ...]]:
    with store.begin() as conn:
        found = conn.execute(
            select(events.c.customer_id, events.c.occurred_at, events.c.ref, events.c.payload)
            .where(events.c.type == "tier_changed")
            .order_by(events.c.occurred_at, events.c.customer_id)
        ).all()
    return [(r[0], r[2], r[3]["from"], r[3]["to"], r[3]["change"]) for r in found]


def test_first_cycle_assigns_tiers_without_events(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    tiers(settings)
    gold, silver, basic = (add_customer(store, name) for name in ("g", "s", "b"))
    add_event(store, gold, "purchase", "2026-01-05T00:00:00", amount=1500)
    add_event(store, silver, "purchase", "2026-01-05T00:00:00", amount=150)
    summary = cycle("2026-02-01T00:00:00")
    assert summary.stages["tiering"]["initial"] == 3
    found = features("2026-02-01T00:00:00", [gold, silver, basic])
    assert [found[c]["tier"] for c in (gold, silver, basic)] == ["gold", "silver", "basic"]
    assert found[gold]["tier_change"] is None and found[gold]["previous_tier"] is None
    assert tier_events(store) == []


def test_upgrade_takes_effect_at_once_and_is_an_event(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    tiers(settings)
    cid = add_customer(store, "u")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=150)
    cycle("2026-02-01T00:00:00")
    add_event(store, cid, "purchase", "2026-02-01T12:00:00", amount=900)
    summary = cycle("2026-02-02T00:00:00")
    assert summary.stages["tiering"]["upgrade"] == 1
    assert state(features, "2026-02-02T00:00:00", cid) == {
        "tier": "gold",
        "previous_tier": "silver",
        "tier_change": "upgrade",
        "tier_changed_to": "gold",
        "tier_changed_from": "silver",
        "days_until_downgrade": None,
        "tier_downgrade_to": None,
    }
    # the change is "recent" for 7 days only; the tier stays
    later = state(features, "2026-02-10T00:00:00", cid)
    assert (later["tier"], later["tier_changed_to"], later["previous_tier"]) == (
        "gold",
        None,
        "silver",
    )
    assert tier_events(store) == [(cid, "gold", "silver", "gold", "upgrade")]


def test_downgrade_waits_for_the_grace_period(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    tiers(settings)
    cid = add_customer(store, "d")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=1500)
    cycle("2026-02-01T00:00:00")
    add_event(store, cid, "refund", "2026-02-01T12:00:00", amount=600)  # spend 900: silver
    assert cycle("2026-02-02T00:00:00").stages["tiering"]["pending"] == 1
    pending = state(features, "2026-02-07T00:00:00", cid)
    assert (pending["tier"], pending["tier_downgrade_to"], pending["days_until_downgrade"]) == (
        "gold",
        "silver",
        5,
    )
    cycle("2026-02-07T00:00:00")
    assert state(features, "2026-02-07T00:00:00", cid)["tier"] == "gold"
    summary = cycle("2026-02-12T00:00:00")  # 10 days below gold
    assert summary.stages["tiering"]["downgrade"] == 1
    after = state(features, "2026-02-12T00:00:00", cid)
    assert (after["tier"], after["tier_change"], after["tier_downgrade_to"]) == (
        "silver",
        "downgrade",
        None,
    )
    assert tier_events(store) == [(cid, "silver", "gold", "silver", "downgrade")]


def test_no_flapping_at_a_boundary(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    tiers(settings)
    cid = add_customer(store, "f")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=1000)
    cycle(day(0))
    # spend crosses 1000 down and up again every 5 days for 40 days (grace: 10 days)
    for step in range(8):
        add_event(store, cid, "purchase" if step % 2 else "refund", day(5 * step + 1), amount=10)
        cycle(day(5 * step + 2))
        assert state(features, day(5 * step + 2), cid)["tier"] == "gold"
    assert tier_events(store) == []
    kinds = [r[0] for r in rows(store, tier_states, "change", "valid_from", order="valid_from")]
    assert set(kinds) == {"initial"} and len(kinds) == 9  # initial, then pending/cancel in turn


def test_a_tier_without_grace_downgrades_at_once(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    tiers(settings, silver_grace="0d")
    cid = add_customer(store, "z")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=150)
    cycle("2026-02-01T00:00:00")
    add_event(store, cid, "refund", "2026-02-01T12:00:00", amount=100)
    assert cycle("2026-02-02T00:00:00").stages["tiering"]["downgrade"] == 1
    assert state(features, "2026-02-02T00:00:00", cid)["tier"] == "basic"


def test_a_repeated_or_dry_cycle_changes_nothing(
    store: Store, settings: Settings, cycle: Cycle
) -> None:
    tiers(settings)
    cid = add_customer(store, "r")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=150)
    dry = cycle("2026-02-01T00:00:00", dry_run=True)
    assert dry.stages["tiering"]["initial"] == 1
    assert rows(store, tier_states, "customer_id") == []
    cycle("2026-02-01T00:00:00")
    add_event(store, cid, "purchase", "2026-02-01T12:00:00", amount=900)
    cycle("2026-02-02T00:00:00")
    before = (rows(store, tier_states, "customer_id", "valid_from"), tier_events(store))
    again = cycle("2026-02-02T00:00:00")
    assert again.stages["tiering"]["upgrade"] == 0
    assert (rows(store, tier_states, "customer_id", "valid_from"), tier_events(store)) == before


def test_a_tier_removed_from_the_list_is_reassigned(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    tiers(settings)
    cid = add_customer(store, "x")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=1500)
    cycle("2026-02-01T00:00:00")
    write_rules(
        settings,
        """
        tiers:
          levels:
            - name: premium
              when: spend_total >= 5000
            - name: standard
        rules: []
        """,
    )
    assert cycle("2026-02-02T00:00:00").stages["tiering"]["reassigned"] == 1
    now = state(features, "2026-02-02T00:00:00", cid)
    assert (now["tier"], now["previous_tier"], now["tier_change"]) == (
        "standard",
        "gold",
        "reassigned",
    )


def test_rules_react_to_a_change_in_the_same_cycle(
    store: Store, settings: Settings, cycle: Cycle
) -> None:
    write_rules(
        settings,
        TIERS.format(silver_grace="10d").replace("rules: []", "")
        + """
    rules:
      - id: gold-welcome
        schedule: "every 1h"
        when: tier_changed_to == "gold" and tier_change == "upgrade"
        once_per: 30d
        category: loyalty
        then:
          - grant_points: {points: 100}
""",
    )
    cid = add_customer(store, "w")
    add_event(store, cid, "purchase", "2026-01-05T00:00:00", amount=150)
    assert cycle("2026-02-01T00:00:00").new == 0
    add_event(store, cid, "purchase", "2026-02-01T12:00:00", amount=900)
    assert cycle("2026-02-02T00:00:00").new == 1
    assert cycle("2026-02-03T00:00:00").new == 0


@pytest.mark.parametrize("ties", ["average", "customer_id"])
def test_tier_features_in_delivery_match_the_cycle(
    store: Store, settings: Settings, cycle: Cycle, features: Features, ties: str
) -> None:
    """feature_rows (delivery, explain) sees the tiers and scores the cycle's rules saw."""
    write_rules(
        settings,
        f"""
        tiers:
          rfm: {{window: 365d, ties: {ties}}}
          levels:
            - name: gold
              when: spend_total >= 1000 and recency_score >= 4
            - name: silver
              when: spend_total >= 100
            - name: basic
        rules:
          - id: gold-points
            schedule: "every 1h"
            when: tier == "gold"
            once_per: once
            category: loyalty
            then:
              - grant_points: {{points: 10}}
        """,
    )
    ids = [add_customer(store, f"m{i}") for i in range(6)]
    for i, cid in enumerate(ids):
        add_event(store, cid, "purchase", f"2026-01-{i + 1:02d}T00:00:00", amount=300 * i)
    summary = cycle("2026-02-01T00:00:00")
    found = features("2026-02-01T00:00:00", ids)
    assert [found[c]["recency_score"] for c in ids] == [1, 1, 2, 3, 4, 5]
    assert [found[c]["tier"] for c in ids] == [
        "basic",
        "silver",
        "silver",
        "silver",
        "gold",
        "gold",
    ]
    assert summary.new == 2


@pytest.mark.parametrize(("ties", "gold"), [("average", 0), ("customer_id", 1)])
def test_new_rfm_settings_apply_in_the_cycle_that_sees_them(
    store: Store, settings: Settings, cycle: Cycle, features: Features, ties: str, gold: int
) -> None:
    """Two customers bought last on the same day: only customer_id ties give one of them 5."""
    write_rules(
        settings,
        f"""
        tiers:
          rfm: {{ties: {ties}}}
          levels:
            - name: gold
              when: recency_score >= 5
              priority_service: true
            - name: basic
        rules: []
        """,
    )
    ids = [add_customer(store, f"t{i}") for i in range(5)]
    for i, cid in enumerate(ids):
        add_event(store, cid, "purchase", f"2026-01-{min(i, 3) + 1:02d}T00:00:00", amount=10)
    summary = cycle("2026-02-01T00:00:00")
    found = features("2026-02-01T00:00:00", ids)
    assert [found[c]["tier"] for c in ids].count("gold") == gold
    assert [found[c]["priority_service"] for c in ids].count(True) == gold
    assert summary.stages["tiering"]["initial"] == 5


TIER_COLUMNS = ("tier", "previous_tier", "tier_change", "tier_since_days", "days_until_downgrade")


def test_the_cycle_table_holds_every_customers_tier_after_the_stage(
    store: Store, settings: Settings
) -> None:
    # The stage rewrites the tier columns of decided customers only; everyone else's
    # come from the features of the same instant: all must equal a fresh computation.
    tiers(settings)
    copy = ColumnsAfterStage("tiering", TIER_COLUMNS)
    app = build_app(settings=settings, pm=make_plugin_manager(extra=[copy], block=OTHER_PLUGINS))
    app._store = store
    ids = [add_customer(store, f"k{i}") for i in range(6)]
    for i, cid in enumerate(ids[:4]):
        add_event(store, cid, "purchase", day(0), amount=300 * i)
    add_event(store, ids[1], "purchase", day(3), amount=900)  # silver -> gold on day 3
    add_event(store, ids[2], "refund", day(3), amount=600)  # gold -> silver: pending
    for when in (day(1), day(3), day(5)):
        run_cycle(app.store, app.registry, settings, app.load_rules(), at(when), force=True)
        ctx = FeatureContext(as_of=at(when), settings=settings, store=store)
        with store.begin() as conn:
            fresh = feature_rows(conn, app.registry, ctx, ids)
        expected = {cid: tuple(fresh[cid][name] for name in TIER_COLUMNS) for cid in ids}
        seen = {cid: tuple(normal(v) for v in row) for cid, row in copy.seen.items()}
        assert seen == expected, when


def normal(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value
