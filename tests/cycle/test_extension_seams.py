"""The seams plugins build on: effect actions in the cycle's transaction, staged features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Select, Table, func, insert, select

from core.app import build_app
from core.config import Settings
from core.cycle import run_cycle
from core.errors import PluginError
from core.features import feature_rows, stages
from core.hookspecs import hookimpl
from core.plugins import make_plugin_manager
from core.registry import build_registry
from core.store import Store
from core.vocabulary import (
    ActionKind,
    ActionParams,
    ActionType,
    EffectContext,
    Feature,
    FeatureContext,
    FeatureType,
)
from tests.cycle.conftest import add_customer, add_event, at, write_rules

EFFECTS = MetaData()
stamps = Table(
    "test_stamps",
    EFFECTS,
    Column("ledger_id", Integer, primary_key=True),  # one stamp per firing, ever
    Column("customer_id", Integer, nullable=False),
    Column("stamps", Integer, nullable=False),
)


class StampParams(ActionParams):
    count: int


def apply_stamps(ctx: EffectContext) -> int:
    firings = ctx.firings.subquery()
    query = select(firings.c.ledger_id, firings.c.customer_id, func.cast(ctx.params.count, Integer))
    return ctx.conn.execute(
        insert(stamps).from_select(["ledger_id", "customer_id", "stamps"], query)
    ).rowcount


class DoubledSpend:
    """A later-stage set: reads spend_total from the feature table of earlier stages."""

    name = "doubled"
    needs = ("spend_total",)
    features: Sequence[Feature] = (
        Feature("spend_doubled", FeatureType.NUMBER, "Twice the spend.", default=0),
    )

    def prepare(self, conn: Any, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        table = ctx.features
        return select(table.c.customer_id, (table.c.spend_total * 2).label("spend_doubled")).where(
            table.c.spend_total > 0
        )


class SeamPlugin:
    @hookimpl
    def patron_action_types(self) -> list[ActionType]:
        return [
            ActionType(
                "stamp",
                StampParams,
                "Give loyalty stamps.",
                kind=ActionKind.EFFECT,
                apply=apply_stamps,
            )
        ]

    @hookimpl
    def patron_feature_sets(self, settings: Settings) -> list[Any]:
        return [DoubledSpend()]


def test_effects_apply_once_per_firing_in_the_cycle_transaction(
    store: Store, settings: Settings
) -> None:
    EFFECTS.create_all(store.engine)
    ids = [add_customer(store, f"s{i}") for i in range(3)]
    for cid in ids[:2]:
        add_event(store, cid, "purchase", "2026-11-01T00:00:00", amount=1000)
    write_rules(
        settings,
        """
        rules:
          - id: stamp-buyers
            schedule: "every 1h"
            when: spend_doubled >= 2000
            once_per: once
            category: loyalty
            then:
              - stamp: {count: 3}
        """,
    )
    app = build_app(settings=settings, pm=make_plugin_manager(extra=[SeamPlugin()]))
    app._store = store
    rules = app.load_rules()
    first = run_cycle(store, app.registry, settings, rules, at("2026-11-23T01:00:00"))
    again = run_cycle(store, app.registry, settings, rules, at("2026-11-24T01:00:00"), force=True)
    assert (first.new, again.new, again.outcomes[0].already) == (2, 0, 2)
    with store.begin() as conn:
        rows = sorted(conn.execute(select(stamps.c.customer_id, stamps.c.stamps)).all())
    assert [tuple(r) for r in rows] == [(ids[0], 3), (ids[1], 3)]


def test_staged_features_read_earlier_stages(store: Store, settings: Settings) -> None:
    registry = build_registry(make_plugin_manager(extra=[SeamPlugin()]), settings)
    assert "doubled" in stages(registry)[1]  # the stage right after the sets it needs
    buyer, idle = add_customer(store, "buyer"), add_customer(store, "idle")
    add_event(store, buyer, "purchase", "2026-11-01T00:00:00", amount=1250)
    ctx = FeatureContext(as_of=at("2026-11-23T01:00:00"), settings=settings, store=store)
    with store.begin() as conn:
        rows = feature_rows(conn, registry, ctx, [buyer, idle])
    assert (rows[buyer]["spend_doubled"], rows[idle]["spend_doubled"]) == (2500, 0)


def test_feature_sets_that_need_each_other_are_refused(settings: Settings) -> None:
    class A(DoubledSpend):
        name = "a"
        needs = ("b_value",)
        features = (Feature("a_value", FeatureType.NUMBER, "A."),)

    class B(DoubledSpend):
        name = "b"
        needs = ("a_value",)
        features = (Feature("b_value", FeatureType.NUMBER, "B."),)

    class Plugin:
        @hookimpl
        def patron_feature_sets(self, settings: Settings) -> list[Any]:
            return [A(), B()]

    registry = build_registry(make_plugin_manager(extra=[Plugin()]), settings)
    with pytest.raises(PluginError, match="feature sets need each other in a cycle: a, b"):
        stages(registry)
