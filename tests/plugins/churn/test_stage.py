"""The churn stage: periodic BG/NBD fits from the store, stored with their fit date."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from core.app import App
from core.features import feature_rows, materialize
from core.importing import import_events
from core.store import Store
from core.vocabulary import FeatureContext, StageContext
from plugins.churn import bgnbd
from plugins.churn.model import ALL_BUYERS_KEY
from plugins.churn.stage import CHURN_STAGE
from plugins.churn.tables import model_fits
from tests.cycle.conftest import add_customer, add_event, at
from tests.plugins.churn.cdnow_data import PAPER, SAMPLE
from tests.plugins.churn.conftest import cycle, features_of

AppFactory = Callable[..., App]
SAMPLED = 1200  # fit_sample of the test below: Knuth's hash spreads consecutive ids evenly
CALIBRATED = "1997-09-29T16:00:00"  # 30 September 1997, midnight in Asia/Shanghai


def fits(store: Store) -> list[dict[str, float]]:
    with store.begin() as conn:
        rows = conn.execute(select(model_fits).order_by(model_fits.c.id)).mappings()
        return [dict(r) for r in rows]


def test_a_cycle_fits_the_cdnow_sample_like_the_paper_and_refits_weekly(
    store: Store, churn_app: AppFactory
) -> None:
    app = churn_app()
    report = import_events(store, SAMPLE, app.settings, app.registry.event_types.names(), "cdnow")
    assert report.inserted == 6919
    dry = cycle(app, CALIBRATED, dry_run=True)
    assert (dry.stages["churn"]["fitted"], fits(store)) == (1, [])  # rolled back
    first = cycle(app, CALIBRATED)
    assert first.stages["churn"] == {"fitted": 1, "fit_customers": 2357, "settings_recorded": 0}
    (fit,) = fits(store)
    assert {name: round(fit[name], 3) for name in PAPER} == PAPER
    assert (fit["as_of"], fit["cycle_id"], fit["n_repeat_customers"]) == (
        at(CALIBRATED),
        first.cycle_id,
        946,
    )
    # features as of the fit's instant use the new fit
    customer_1 = 1  # master id 00004: x = 2, t_x = 30.43, T = 38.86 weeks
    assert features_of(app, CALIBRATED, [customer_1])[customer_1]["p_alive"] == pytest.approx(
        float(bgnbd.p_alive(bgnbd.BgNbdParams(**PAPER), 2, 213 / 7, 272 / 7)), rel=2e-3
    )
    assert cycle(app, "1997-10-05T16:00:00").stages["churn"]["fitted"] == 0
    assert cycle(app, "1997-10-06T16:00:00").stages["churn"]["fitted"] == 1  # 7 days on
    assert [f["as_of"] for f in fits(store)] == [at(CALIBRATED), at("1997-10-06T16:00:00")]


def test_no_fit_without_enough_repeat_buyers(store: Store, churn_app: AppFactory) -> None:
    for i in range(5):
        customer = add_customer(store, f"c{i}")
        add_event(store, customer, "purchase", "2026-01-01T00:00:00", amount=100)
        add_event(store, customer, "purchase", "2026-02-01T00:00:00", amount=100)
    app = churn_app("churn:\n  min_repeat_customers: 6\n")
    summary = cycle(app, "2026-03-01T00:00:00")
    assert (summary.stages["churn"]["fitted"], fits(store)) == (0, [])
    assert features_of(app, "2026-03-01T00:00:00", [1])[1]["p_alive"] is None


def test_a_large_base_is_fitted_to_a_fixed_sample_and_everyone_is_scored(
    store: Store, churn_app: AppFactory
) -> None:
    app = churn_app("churn:\n  fit_sample: 1200\n")
    import_events(store, SAMPLE, app.settings, app.registry.event_types.names(), "cdnow")
    first = cycle(app, CALIBRATED)
    # a fixed share of the 2,357 buyers, by a hash of the customer id: the same on both
    # backends and at every refit
    assert first.stages["churn"]["fit_customers"] == SAMPLED
    (fit,) = fits(store)
    for name, value in PAPER.items():  # half the data, nearly the same model
        assert fit[name] == pytest.approx(value, rel=0.3), name
    everyone = features_of(app, CALIBRATED, range(1, 2358))
    assert all(row["p_alive"] is not None for row in everyone.values())


def test_a_sample_with_too_few_repeat_buyers_falls_back_to_everyone(
    store: Store, churn_app: AppFactory
) -> None:
    app = churn_app("churn:\n  fit_sample: 1\n")
    import_events(store, SAMPLE, app.settings, app.registry.event_types.names(), "cdnow")
    assert cycle(app, CALIBRATED).stages["churn"]["fit_customers"] == 2357
    (fit,) = fits(store)
    assert {name: round(fit[name], 3) for name in PAPER} == PAPER


def test_the_cycle_that_fits_scores_its_own_feature_table_with_the_new_fit(
    store: Store, churn_app: AppFactory
) -> None:
    # The stage runs before the features; the churn_model set then scores the triples
    # the fit aggregated instead of aggregating again. Its values must be the ones a
    # fresh computation of the same instant gives.
    app = churn_app()
    import_events(store, SAMPLE, app.settings, app.registry.event_types.names(), "cdnow")
    ctx = FeatureContext(as_of=at(CALIBRATED), settings=app.settings, store=store)
    with store.engine.connect() as conn, conn.begin():
        summary = CHURN_STAGE.run(StageContext(conn, ctx, None, app.load_rules(), None, False))
        assert summary["fitted"] == 1 and ALL_BUYERS_KEY in ctx.cycle_state
        table = materialize(conn, app.registry, ctx)
        assert ALL_BUYERS_KEY not in ctx.cycle_state  # taken by the churn_model set
        in_cycle = {
            row.customer_id: (row.p_alive, row.expected_purchases_90d, row.churn_risk)
            for row in conn.execute(
                select(
                    table.c.customer_id,
                    table.c.p_alive,
                    table.c.expected_purchases_90d,
                    table.c.churn_risk,
                )
            )
        }
        fresh = feature_rows(
            conn,
            app.registry,
            FeatureContext(as_of=ctx.as_of, settings=app.settings, store=store),
            in_cycle,
        )
    assert sum(1 for v in in_cycle.values() if v[0] is not None) == 2357
    for customer_id, (p_alive, expected, risk) in in_cycle.items():
        row = fresh[customer_id]
        assert (p_alive, expected) == (row["p_alive"], row["expected_purchases_90d"])
        assert risk == pytest.approx(row["churn_risk"])
