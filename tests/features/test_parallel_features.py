"""The split path (first stage on two connections, later stages on set tables) gives the
single query's rows, later stages (churn_risk) included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.app import build_app
from core.config import Settings
from core.demo import write_demo_files
from core.features import materialize, unkept_first_stage
from core.hookspecs import hookimpl
from core.importing import import_customers, import_events
from core.parallel_features import SCRATCH_KEY, first_stage_split, scratch_database
from core.plugins import make_plugin_manager
from core.store import Store
from core.store.tables import Event, table_of
from core.vocabulary import Feature, FeatureContext, FeatureType

AS_OF = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REPO = Path(__file__).resolve().parents[2]


def _rows(conn: Any, settings: Settings, app: Any) -> list[tuple[Any, ...]]:
    ctx = FeatureContext(int(AS_OF.timestamp()), settings, app.store)
    table = materialize(conn, app.registry, ctx)
    return [tuple(r) for r in conn.execute(select(table).order_by(table.c.customer_id))]


def _demo_app(
    store: Store, settings: Settings, tmp_path: Path, customers: int, pm: Any = None
) -> Any:
    """An app on ``store`` holding ``customers`` demo customers and their events."""
    customers_csv, events_csv = write_demo_files(
        tmp_path / "demo", customers=customers, as_of=AS_OF
    )
    app = build_app(settings=settings, pm=pm)
    app._store = store
    import_customers(store, customers_csv, settings)
    import_events(store, events_csv, settings, app.registry.event_types.names())
    return app


def test_split_and_single_query_agree_on_every_feature(
    sqlite_store: Store, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings.model_copy(
        update={"rule_paths": [REPO / "rules"], "template_paths": [REPO / "templates"]}
    )
    app = _demo_app(sqlite_store, settings, tmp_path, 400)

    with sqlite_store.engine.connect() as conn, conn.begin():
        single = _rows(conn, settings, app)
    with sqlite_store.engine.connect() as conn:
        with scratch_database(conn, app.registry), conn.begin():
            assert conn.info[SCRATCH_KEY]  # a file store: the split path is taken
            split = _rows(conn, settings, app)
            # the helper connection really filled scratch tables with computed sets
            tables = conn.exec_driver_sql(
                "SELECT name FROM patron_scratch.sqlite_master WHERE type = 'table'"
            ).scalars()
            helped = sum(
                conn.exec_driver_sql(f"SELECT count(*) FROM patron_scratch.{t}").scalar_one()
                for t in list(tables)
            )
        assert SCRATCH_KEY not in conn.info  # detached when the block ends
    assert helped > 0
    assert len(single) == 400
    assert split == single

    # A cycle's connection that read the scratch database too early (its snapshot then
    # predates the helper's rows) notices and computes those sets itself.
    with (
        sqlite_store.engine.connect() as conn,
        scratch_database(conn, app.registry),
        conn.begin(),
    ):
        conn.exec_driver_sql("CREATE TEMP TABLE early_write (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO temp.early_write VALUES (1)")  # the driver's BEGIN
        conn.exec_driver_sql("SELECT count(*) FROM patron_scratch.fs_purchases").scalar()
        early = _rows(conn, settings, app)
    assert early == single
    assert "computed again on the cycle's connection" in caplog.text


def test_helper_started_early_gives_the_same_rows_and_stops_on_error(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    app = _demo_app(sqlite_store, settings, tmp_path, 200)
    ctx = FeatureContext(int(AS_OF.timestamp()), settings, app.store)
    with sqlite_store.engine.connect() as conn, conn.begin():
        single = _rows(conn, settings, app)

    early = unkept_first_stage(app.registry, ctx)
    assert "profile" in early and "purchases" not in early  # kept sets wait
    with (
        sqlite_store.engine.connect() as conn,
        scratch_database(conn, app.registry),
        conn.begin(),
    ):
        with first_stage_split(conn, app.registry, ctx, early) as split:
            table = materialize(conn, app.registry, ctx, split=split)
            rows = [tuple(r) for r in conn.execute(select(table).order_by(table.c.customer_id))]
        assert rows == single

        with first_stage_split(conn, app.registry, ctx, early) as split:
            assert split is not None
            with pytest.raises(ValueError, match="early sets not asked for"):
                split.finish([n for n in early if n != "profile"])
        assert not split.helping

        # a stage that fails before the features: the helper stops, nothing hangs
        with (
            pytest.raises(RuntimeError, match="an early stage failed"),
            first_stage_split(conn, app.registry, ctx, early) as split,
        ):
            assert split is not None
            raise RuntimeError("an early stage failed")
        assert not split.helping


class _CountedThroughCte:
    """A plugin's set whose SELECT has a common table expression: on SQLite the store
    must render the statement that fills its table as INSERT ... WITH, or the driver
    reports no rowcount and the set is computed a second time."""

    name = "counted"
    parallel_safe = True
    features = (Feature("events_counted", FeatureType.NUMBER, "Events, counted.", default=0),)

    def prepare(self, conn: Any, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Any:
        events = table_of(Event)
        counted = (
            select(events.c.customer_id, func.count().label("n"))
            .where(events.c.occurred_at <= ctx.as_of)
            .group_by(events.c.customer_id)
            .cte("counted")
        )
        return select(counted.c.customer_id, counted.c.n.label("events_counted"))


class _CtePlugin:
    @hookimpl
    def patron_feature_sets(self, settings: Settings) -> list[Any]:
        return [_CountedThroughCte()]


def test_a_set_with_a_common_table_expression_is_not_computed_twice(
    sqlite_store: Store, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pm = make_plugin_manager(extra=[_CtePlugin()])
    app = _demo_app(sqlite_store, settings, tmp_path, 100, pm)
    as_of = int(AS_OF.timestamp())
    with (
        sqlite_store.engine.connect() as conn,
        scratch_database(conn, app.registry),
        conn.begin(),
    ):
        table = materialize(conn, app.registry, FeatureContext(as_of, settings, app.store))
        got = dict(conn.execute(select(table.c.customer_id, table.c.events_counted)).all())
        ev = table_of(Event)
        want = dict(
            conn.execute(
                select(ev.c.customer_id, func.count())
                .where(ev.c.occurred_at <= as_of)
                .group_by(ev.c.customer_id)
            ).all()
        )
    assert "computed again" not in caplog.text
    assert {c: n for c, n in got.items() if n} == want


def test_a_set_table_gets_only_the_wanted_features(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    # A cycle reads a few of a set's features: the others are not computed (SQLite then
    # leaves their expressions out of the set's query).
    app = _demo_app(sqlite_store, settings, tmp_path, 50)
    ctx = FeatureContext(
        int(AS_OF.timestamp()), settings, app.store, wanted=frozenset({"days_until_birthday"})
    )
    with (
        sqlite_store.engine.connect() as conn,
        scratch_database(conn, app.registry),
        conn.begin(),
    ):
        materialize(conn, app.registry, ctx)
        # the helper's table, or the cycle connection's if it took the set first
        temp = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_temp_master WHERE name = 'patron_fs_profile'"
        ).scalar_one()
        table = "temp.patron_fs_profile" if temp else "patron_scratch.fs_profile"
        computed, unwanted = conn.exec_driver_sql(
            f"SELECT count(days_until_birthday), count(locale) FROM {table}"
        ).one()
    assert computed > 0
    assert unwanted == 0
