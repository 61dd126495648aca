"""Kept feature sets give exactly the values of a full computation, cycle after cycle.

A store is fed events in steps (new ones, late ones dated before the last instant,
ones dated ahead of it) and the features are materialized at a later instant after each
step (once at an earlier one); every feature of every customer must equal a fresh
computation of the same instant, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from core.app import App, build_app
from core.config import Settings
from core.features import feature_rows, materialize, normalize
from core.kept_sets import KEPT_KEY, fingerprint, keeping_of
from core.store import Customer, Event, KeptSet, Store
from core.store.tables import table_of
from core.store.watermark import events_watermark, hold_event_writes
from core.vocabulary import FeatureContext, Keeping
from plugins.churn.tables import model_fits
from tests.query_plan import sqlite_plan

DAY = 86400
START = 1_700_000_000  # 2023-11-14
REPO = Path(__file__).resolve().parents[2]
KEPT = (
    "care_contacts",
    "churn_purchase_days",
    "care_surveys",
    "churn_contact_signals",
    "churn_purchase_signals",
    "churn_survey_signals",
    "purchases",
    "rfm_values",
    "service",
)
# Kept beside the feature sets, with an instant of its own (plugins.tiering.current).
KEPT_STATES = (*KEPT, "tier_current")


def _app(store: Store, settings: Settings) -> App:
    settings = settings.model_copy(
        update={"rule_paths": [REPO / "rules"], "template_paths": [REPO / "templates"]}
    )
    app = build_app(settings=settings)
    app._store = store
    return app


def _events(rng: random.Random, ids: list[int], count: int, low: int, high: int) -> list[Any]:
    rows = []
    for _ in range(count):
        kind = rng.choice(["purchase"] * 6 + ["refund", "survey", "contact"])
        rows.append(
            {
                "customer_id": rng.choice(ids),
                "type": kind,
                "occurred_at": rng.randint(low, high),
                "amount": rng.randint(100, 90_000) if kind in ("purchase", "refund") else None,
                "value": rng.randint(1, 5) if kind == "survey" else None,
                "ref": None,
                "payload": None,
                "source_key": f"k{rng.getrandbits(64)}",
            }
        )
    return rows


def _customers(store: Store, count: int) -> list[int]:
    with store.begin() as conn:
        conn.execute(
            insert(table_of(Customer)),
            [{"external_id": f"c{i}", "consent": {}, "attributes": {}} for i in range(count)],
        )
        return list(conn.execute(select(table_of(Customer).c.id)).scalars())


def _add(store: Store, rows: list[Any]) -> None:
    with store.begin() as conn:
        hold_event_writes(conn)
        conn.execute(insert(table_of(Event)), rows)


def _materialized(app: App, as_of: int) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Every customer's features from a committed materialize (kept sets updated), and
    per kept set how many customers it recomputed (None: rebuilt)."""
    registry = app.registry
    ctx = FeatureContext(as_of, app.settings, app.store)
    with app.store.engine.connect() as conn, conn.begin():
        table = materialize(conn, registry, ctx)
        rows = {
            int(row["customer_id"]): {
                name: normalize(feature.type, row[name])
                for name, feature in registry.features.items.items()
            }
            for row in conn.execute(select(table)).mappings()
        }
    return rows, ctx.cycle_state[KEPT_KEY]


def _fresh(app: App, as_of: int, ids: list[int]) -> dict[int, dict[str, Any]]:
    with app.store.engine.connect() as conn, conn.begin():
        rows = feature_rows(conn, app.registry, FeatureContext(as_of, app.settings, app.store), ids)
        conn.rollback()
    return rows


def test_kept_sets_equal_a_full_computation_at_every_step(store: Store, settings: Settings) -> None:
    app = _app(store, settings)
    rng = random.Random(7)
    ids = _customers(store, 60)
    as_of = START + 400 * DAY
    _add(store, _events(rng, ids, 900, START, as_of + 5 * DAY))  # some ahead of the instant
    with store.begin() as conn:  # a BG/NBD fit, so that p_alive reads the kept purchase days
        conn.execute(
            insert(model_fits),
            [
                {
                    "as_of": START,
                    "r": 0.24,
                    "alpha": 4.41,
                    "a": 0.79,
                    "b": 2.43,
                    "n_customers": 60,
                    "n_repeat_customers": 50,
                    "log_likelihood": -1.0,
                }
            ],
        )

    steps = [DAY, DAY, 3 * DAY, -20 * DAY, DAY, 100 * DAY, DAY]
    updated: Counter[str] = Counter()
    for step, days in enumerate(steps):
        rows, recomputed = _materialized(app, as_of)
        assert rows == _fresh(app, as_of, ids), f"step {step} at {as_of}"
        assert sum(row["p_alive"] is not None for row in rows.values()) > 40
        with store.begin() as conn:
            kept = {r.name: r.as_of for r in conn.execute(select(table_of(KeptSet)))}
        assert set(kept) == set(KEPT_STATES)
        assert {name: kept[name] for name in KEPT} == {name: as_of for name in KEPT}
        assert set(recomputed) == set(KEPT)
        updated.update(name for name, count in recomputed.items() if count is not None)
        # new events now, late ones from the last two weeks, and some dated ahead
        _add(store, _events(rng, ids, 4, as_of - 14 * DAY, as_of))
        _add(store, _events(rng, ids, 2, as_of, as_of + 2 * DAY))
        as_of += days
    # steps 1, 2, 3 and 5 bring every set's kept rows up to date (step 4 goes back: rebuilt)
    assert min(updated[name] for name in KEPT) >= 4


def test_a_dry_run_reads_afresh_and_writes_no_kept_rows(store: Store, settings: Settings) -> None:
    app = _app(store, settings)
    rng = random.Random(3)
    ids = _customers(store, 10)
    as_of = START + 100 * DAY
    _add(store, _events(rng, ids, 80, START, as_of))
    _materialized(app, as_of)
    _add(store, _events(rng, ids, 5, as_of, as_of + DAY))
    later = as_of + DAY
    ctx = FeatureContext(later, app.settings, store, read_only=True)
    with store.engine.connect() as conn, conn.begin():
        table = materialize(conn, app.registry, ctx)
        dry = {int(r.customer_id): r for r in conn.execute(select(table))}
        # even inside its own transaction, nothing kept was touched
        states = {r.name: r.as_of for r in conn.execute(select(table_of(KeptSet)))}
        conn.rollback()
    assert set(states) == set(KEPT_STATES)
    assert {name: states[name] for name in KEPT} == {name: as_of for name in KEPT}
    assert KEPT_KEY not in ctx.cycle_state
    rows, _ = _materialized(app, later)
    assert {i: rows[i]["purchase_count"] for i in ids} == {i: dry[i].purchase_count for i in ids}


def test_the_fingerprint_follows_the_definition() -> None:
    class Purchases:
        name = "p"
        features = ()
        keeping = Keeping(event_types=("purchase",), windows_days=(90,))

    first = Purchases()
    keeping = keeping_of(first)
    assert keeping is not None
    widened = Keeping(event_types=("purchase",), windows_days=(90, 365))
    assert fingerprint(first, keeping) != fingerprint(first, widened)

    class Later(Purchases):
        needs = ("purchase_count",)

    assert keeping_of(Later()) is None  # a later-stage set is never kept


@pytest.mark.postgres
def test_the_watermark_waits_for_event_writers_in_flight(postgres_store: Store) -> None:
    """An id drawn before the watermark is read but committed after it would never be
    seen as new: reading the watermark waits for transactions that write events."""
    store = postgres_store
    with store.begin() as conn:
        conn.execute(
            insert(table_of(Customer)), [{"external_id": "a", "consent": {}, "attributes": {}}]
        )
        customer = conn.execute(select(table_of(Customer).c.id)).scalar_one()
    row = {"customer_id": customer, "type": "purchase", "occurred_at": START, "source_key": "a1"}
    read: list[int] = []
    with store.engine.connect() as writer:
        writer.begin()
        hold_event_writes(writer)
        writer.execute(insert(table_of(Event)), [row])

        def watermark() -> None:
            with store.engine.connect() as conn:
                read.append(events_watermark(conn))

        thread = threading.Thread(target=watermark)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the writer
        assert not read
        writer.commit()
    thread.join(30)
    with store.begin() as conn:
        newest = conn.execute(select(table_of(Event).c.id)).scalar_one()
    assert read == [newest]


def test_a_kept_sets_update_looks_each_changed_customer_up_by_key(
    sqlite_store: Store, settings: Settings
) -> None:
    # A kept set's update computes the changed customers only. The service set's last
    # surveys were once scanned in full for each of them (SQLite took the ranked
    # subquery for a row or two): 25 s for 10k customers. No kept set's plan may scan a
    # part inside the join's loop.
    store = sqlite_store
    rng = random.Random(5)
    ids = _customers(store, 40)
    as_of = START + 100 * DAY
    _add(store, _events(rng, ids, 400, START, as_of))
    registry = _app(store, settings).registry
    changed = select(table_of(Customer).c.id).where(table_of(Customer).c.id.in_(ids[:10]))
    ctx = FeatureContext(as_of, settings, store, only=changed)
    kept = [s for s in registry.feature_sets.items.values() if keeping_of(s) is not None]
    assert {s.name for s in kept} == set(KEPT) - {"churn_purchase_days", "rfm_values"}
    with store.engine.connect() as conn:
        for fset in kept:
            fset.prepare(conn, ctx)
            plan = sqlite_plan(conn, fset.select(ctx))
            assert not [p for p in plan if p.startswith("SCAN") and p.endswith("LEFT-JOIN")], (
                fset.name,
                plan,
            )
            if fset.name == "service":
                assert any(step.startswith("SEARCH last_survey") for step in plan), plan
