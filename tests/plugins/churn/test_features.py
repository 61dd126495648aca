"""Churn features: the signals, P(alive) from the stored fit, risk, band and reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core.app import App
from core.config import Settings
from core.store import Store
from plugins.churn import bgnbd
from plugins.churn.tables import model_fits, settings_records
from tests.cycle.conftest import add_customer, add_event
from tests.plugins.churn.conftest import cycle, features_of, store_fit
from tests.plugins.churn.test_bgnbd import PAPER_PARAMS

AppFactory = Callable[..., App]
NOW = "2026-06-30T04:00:00"  # noon in Asia/Shanghai, the settings' zone


def test_signals(store: Store, churn_app: AppFactory) -> None:
    steady = add_customer(store, "steady")
    for day in ("2026-01-10", "2026-02-09", "2026-03-11", "2026-04-10"):  # every 30 days
        add_event(store, steady, "purchase", f"{day}T04:00:00", amount=1000)
    add_event(store, steady, "refund", "2026-04-11T04:00:00", amount=400)
    add_event(store, steady, "survey", "2026-03-01T00:00:00", value=5)
    add_event(store, steady, "survey", "2026-05-01T00:00:00", value=2)
    add_event(store, steady, "contact", "2026-06-01T04:00:00")
    add_event(store, steady, "contact_replied", "2026-06-02T04:00:00")
    add_event(store, steady, "contact", "2026-06-20T04:00:00")
    add_event(store, steady, "contact", "2026-06-25T04:00:00")
    once = add_customer(store, "once")
    add_event(store, once, "purchase", "2026-06-01T04:00:00", amount=1000)
    rows = features_of(churn_app(), NOW, [steady, once])
    s, o = rows[steady], rows[once]
    assert s["typical_purchase_gap_days"] == 30
    assert s["recency_ratio"] == pytest.approx(81 / 30)
    # the last 90 days (from 1 April): 1 purchase, 600 net; the 90 before: 3 purchases, 3000
    assert (s["purchase_count_prev_90d"], s["spend_prev_90d"]) == (3, 3000)
    assert (s["purchase_decline_90d"], s["spend_decline_90d"]) == (pytest.approx(2 / 3), 0.8)
    assert s["survey_trend"] == -3
    assert s["days_since_unanswered_contact"] == 10  # the oldest contact since the last reply
    assert (o["typical_purchase_gap_days"], o["recency_ratio"], o["purchase_decline_90d"]) == (
        None,
        None,
        None,
    )
    assert (o["survey_trend"], o["days_since_unanswered_contact"]) == (None, None)


def test_p_alive_uses_the_fit_in_force_and_never_fits(store: Store, churn_app: AppFactory) -> None:
    buyer = add_customer(store, "buyer")
    # purchase days 0, 14 (twice that day) and 35 after 1 Jan, local time
    for when in (
        "2026-01-01T01:00:00",
        "2026-01-15T02:00:00",
        "2026-01-15T09:00:00",
        "2026-02-05T03:00:00",
    ):
        add_event(store, buyer, "purchase", when, amount=500)
    silent = add_customer(store, "silent")
    app = churn_app()
    before = features_of(app, NOW, [buyer, silent])
    assert before[buyer]["p_alive"] is None  # no fit yet, and computing features does not fit
    store_fit(store, "2026-03-01T00:00:00", *PAPER_PARAMS.as_tuple())
    store_fit(store, "2026-07-01T00:00:00", 1.0, 1.0, 1.0, 1.0)  # later: not in force yet
    rows = features_of(app, NOW, [buyer, silent])
    x, t_x, T = 2, 35 / 7, 180 / 7  # 1 January to 30 June: 180 days
    assert rows[buyer]["p_alive"] == pytest.approx(float(bgnbd.p_alive(PAPER_PARAMS, x, t_x, T)))
    assert rows[buyer]["expected_purchases_90d"] == pytest.approx(
        float(bgnbd.expected_purchases(PAPER_PARAMS, 90 / 7, x, t_x, T))
    )
    assert (rows[silent]["p_alive"], rows[silent]["expected_purchases_90d"]) == (None, None)
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(model_fits)).scalar_one() == 2


def test_risk_band_and_reason(store: Store, churn_app: AppFactory) -> None:
    complainer = add_customer(store, "complainer")
    add_event(store, complainer, "purchase", "2026-06-20T04:00:00", amount=1000)
    for ticket in ("T1", "T2"):
        add_event(store, complainer, "complaint_opened", "2026-06-21T00:00:00", ref=ticket)
        add_event(store, complainer, "complaint_resolved", "2026-06-22T00:00:00", ref=ticket)
    gone = add_customer(store, "gone")
    add_event(store, gone, "purchase", "2025-10-01T04:00:00", amount=1000)
    fresh = add_customer(store, "fresh")
    add_event(store, fresh, "purchase", "2026-06-29T04:00:00", amount=1000)
    nobody = add_customer(store, "nobody")
    rows = features_of(churn_app(), NOW, [complainer, gone, fresh, nobody])
    c = rows[complainer]
    assert (c["churn_risk"], c["churn_band"], c["churn_reason"]) == (
        pytest.approx(0.6),
        "medium",
        "complaints",
    )
    g = rows[gone]  # 272 days silent, far beyond three 60-day gaps: inactivity 1 × weight 0.7
    assert (g["churn_risk"], g["churn_band"], g["churn_reason"]) == (
        pytest.approx(0.7),
        "high",
        "inactivity",
    )
    assert (rows[fresh]["churn_risk"], rows[fresh]["churn_band"], rows[fresh]["churn_reason"]) == (
        0,
        "low",
        "none",
    )
    assert rows[nobody]["churn_band"] == "low"


def test_settings_are_recorded_and_used_from_then_on(store: Store, churn_app: AppFactory) -> None:
    complainer = add_customer(store, "complainer")
    add_event(store, complainer, "purchase", "2026-06-20T04:00:00", amount=1000)
    add_event(store, complainer, "complaint_opened", "2026-06-21T00:00:00", ref="T1")
    app = churn_app("churn:\n  bands: {high: 0.25, medium: 0.1}\n")
    assert features_of(app, NOW, [complainer])[complainer]["churn_band"] == "low"  # defaults: 0.3
    summary = cycle(app, NOW)
    assert summary.stages["churn"]["settings_recorded"] == 1
    assert features_of(app, NOW, [complainer])[complainer]["churn_band"] == "high"
    assert features_of(app, "2026-06-29T00:00:00", [complainer])[complainer]["churn_band"] == "low"
    assert cycle(app, "2026-07-01T00:00:00").stages["churn"]["settings_recorded"] == 0
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(settings_records)).scalar_one() == 1


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        (
            "churn:\n  bands: {high: 0.3, medium: 0.5}\n",
            "rules/rules.yaml:2: churn.bands.medium: the medium threshold (0.5) must be below the high one (0.3)",
        ),
        (
            "churn:\n  fit_every: weekly\n",
            "rules/rules.yaml:2: churn.fit_every: 'weekly' is not a duration: use a number and a unit: "
            "30m, 12h, 7d or 2w, got 'weekly'",
        ),
        (
            "churn:\n  weights: {modle: 0.5}\n",
            "rules/rules.yaml:2: churn.weights: unknown key 'modle' (did you mean 'model'?)",
        ),
    ],
)
def test_churn_settings_problems(
    churn_app: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    yaml: str,
    expected: str,
) -> None:
    monkeypatch.chdir(settings.base_dir)
    _rules, problems = churn_app(yaml).check_rules()
    assert [str(p) for p in problems] == [expected]
