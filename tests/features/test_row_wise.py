"""Row-wise later sets: computed in the pass that writes the feature table (split path),
with the same rows as the single query, unless another set needs their features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import case, select

from core.config import Settings
from core.cycle_features import planned_stages, with_needs
from core.features import computed_in_pass, materialize
from core.hookspecs import hookimpl
from core.parallel_features import SCRATCH_KEY, scratch_database
from core.plugins import make_plugin_manager
from core.store import Store
from core.vocabulary import Feature, FeatureContext, FeatureType
from tests.features.test_parallel_features import AS_OF, _demo_app


class _SpendTwice:
    """Twice the year's spend and a label, from the row alone: a row-wise set."""

    name = "spend_twice"
    row_wise = True
    needs = ("spend_365d",)
    features = (
        Feature("spend_twice", FeatureType.NUMBER, "Twice spend_365d.", default=0),
        Feature("spender", FeatureType.STRING, "big, small or none.", default="none"),
    )

    def prepare(self, conn: Any, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Any:
        f = ctx.features
        spend = f.c.spend_365d
        return select(
            f.c.customer_id,
            *(f.c[name] for name in ctx.carry),
            (spend * 2).label("spend_twice"),
            # NULL without spend: the feature's default applies
            case((spend > 300000, "big"), (spend > 0, "small"), else_=None).label("spender"),
        )


class _SpendFourTimes:
    """A set that needs the row-wise set's feature: that one then gets a table of its own."""

    name = "spend_four_times"
    needs = ("spend_twice",)
    features = (Feature("spend_four_times", FeatureType.NUMBER, "Twice spend_twice."),)

    def prepare(self, conn: Any, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Any:
        f = ctx.features
        return select(f.c.customer_id, (f.c.spend_twice * 2).label("spend_four_times"))


class _Plugin:
    def __init__(self, *sets: Any) -> None:
        self.sets = sets

    @hookimpl
    def patron_feature_sets(self, settings: Settings) -> list[Any]:
        return list(self.sets)


def _rows(conn: Any, app: Any, settings: Settings, wanted: frozenset[str] | None) -> list[Any]:
    ctx = FeatureContext(int(AS_OF.timestamp()), settings, app.store, wanted=wanted)
    table = materialize(conn, app.registry, ctx)
    return [tuple(r) for r in conn.execute(select(table).order_by(table.c.customer_id))]


def _single_and_split(
    app: Any, settings: Settings, wanted: frozenset[str] | None
) -> tuple[list[Any], list[Any], set[str]]:
    """The feature rows by the single query and by the split path, and the names of the
    TEMP tables the split path left on its connection."""
    store = app.store
    with store.engine.connect() as conn, conn.begin():
        single = _rows(conn, app, settings, wanted)
    with store.engine.connect() as conn, scratch_database(conn, app.registry), conn.begin():
        assert conn.info[SCRATCH_KEY]  # the split path
        split = _rows(conn, app, settings, wanted)
        temp = set(conn.exec_driver_sql("SELECT name FROM sqlite_temp_master").scalars())
    return single, split, temp


@pytest.mark.parametrize("reads", [None, {"spender", "churn_band", "tier"}])
def test_row_wise_sets_computed_in_the_pass_give_the_single_query_rows(
    sqlite_store: Store, settings: Settings, tmp_path: Path, reads: set[str] | None
) -> None:
    pm = make_plugin_manager(extra=[_Plugin(_SpendTwice())])
    app = _demo_app(sqlite_store, settings, tmp_path, 300, pm)
    # as a cycle reading only a few features asks: with what their sets need
    wanted = None if reads is None else with_needs(app.registry, reads)
    plan = planned_stages(app.registry, wanted)
    assert {"spend_twice", "churn_risk"} <= set(computed_in_pass(app.registry, plan))

    single, split, temp = _single_and_split(app, settings, wanted)
    # computed in the pass: no table of their own
    assert not {"patron_fs_spend_twice", "patron_fs_churn_risk"} & temp
    assert len(split) == 300
    assert split == single
    names = [
        "customer_id",
        *(n for n in app.registry.features.names() if not wanted or n in wanted),
    ]
    spenders = {row[names.index("spender")] for row in split}
    assert spenders == {"big", "small", "none"}


def test_a_row_wise_set_another_set_needs_gets_its_own_table(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    pm = make_plugin_manager(extra=[_Plugin(_SpendTwice(), _SpendFourTimes())])
    app = _demo_app(sqlite_store, settings, tmp_path, 120, pm)
    in_pass = computed_in_pass(app.registry, planned_stages(app.registry, None))
    assert "spend_twice" not in in_pass and "churn_risk" in in_pass

    single, split, temp = _single_and_split(app, settings, None)
    assert "patron_fs_spend_twice" in temp
    assert split == single
