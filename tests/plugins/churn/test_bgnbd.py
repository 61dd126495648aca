"""BG/NBD against the paper, against hand-checked values, and at its numerical edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from plugins.churn import bgnbd
from plugins.churn.bgnbd import BgNbdParams
from tests.plugins.churn.cdnow_data import PAPER, calibration_stats

PAPER_PARAMS = BgNbdParams(**PAPER)


@pytest.fixture(scope="module")
def cdnow_fit() -> bgnbd.FitResult:
    return bgnbd.fit(*calibration_stats())


def test_the_fit_reproduces_the_paper_on_the_cdnow_sample(cdnow_fit: bgnbd.FitResult) -> None:
    """Fader, Hardie & Lee (2005), section 4: r, alpha, a, b as published (three decimals)."""
    found = cdnow_fit.params
    assert {name: round(getattr(found, name), 3) for name in PAPER} == PAPER
    assert cdnow_fit.customers == 2357
    assert cdnow_fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert cdnow_fit.converged


def test_a_weighted_fit_over_distinct_triples_is_the_same_fit(cdnow_fit: bgnbd.FitResult) -> None:
    x, t_x, T = calibration_stats()
    triples, counts = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    weighted = bgnbd.fit(triples[:, 0], triples[:, 1], triples[:, 2], counts)
    assert weighted.params.as_tuple() == pytest.approx(cdnow_fit.params.as_tuple(), rel=1e-4)


def test_the_papers_conditional_expectation() -> None:
    """Section 5: x = 2, t_x = 30.43, T = 38.86 → 1.226 purchases in the next 39 weeks."""
    found = bgnbd.expected_purchases(PAPER_PARAMS, 39, 2, 30.43, 38.86)
    assert float(found) == pytest.approx(1.226, abs=5e-4)


def test_p_alive_by_hand() -> None:
    # 1 / (1 + a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)), worked out on paper for the same customer:
    # 0.793/3.426 = 0.23147; (43.274/34.844)^2.243 = 1.62581; 1/(1 + 0.37633) = 0.72657
    assert float(bgnbd.p_alive(PAPER_PARAMS, 2, 30.43, 38.86)) == pytest.approx(0.72657, abs=2e-5)
    r, alpha, a, b = PAPER_PARAMS.as_tuple()
    for x, t_x, T in [(1, 5.0, 30.0), (7, 20.0, 21.0), (15, 2.0, 40.0)]:
        odds = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        assert float(bgnbd.p_alive(PAPER_PARAMS, x, t_x, T)) == pytest.approx(1 / (1 + odds))


def test_conditional_expectation_agrees_with_the_untransformed_formula() -> None:
    """Eq. 10 as printed (no Euler transformation), where its numbers are still safe."""
    r, alpha, a, b = PAPER_PARAMS.as_tuple()
    t = 13.0
    for x, t_x, T in [(0, 0.0, 20.0), (1, 3.0, 30.0), (4, 25.0, 30.0), (10, 30.0, 35.0)]:
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        tail = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        assert float(bgnbd.expected_purchases(PAPER_PARAMS, t, x, t_x, T)) == pytest.approx(
            head / tail, rel=1e-9
        )


def test_a_new_customer_matches_the_unconditional_expectation() -> None:
    for t in (1.0, 13.0, 39.0, 78.0):
        conditional = bgnbd.expected_purchases(PAPER_PARAMS, t, 0, 0.0, 0.0)
        assert float(conditional) == pytest.approx(
            float(bgnbd.expected_purchases_new_customer(PAPER_PARAMS, t)), rel=1e-12
        )


def test_a_customer_without_a_repeat_purchase() -> None:
    ages = np.array([0.0, 10.0, 52.0, 520.0])
    assert bgnbd.p_alive(PAPER_PARAMS, 0, 0, ages).tolist() == [1.0] * 4
    expected = bgnbd.expected_purchases(PAPER_PARAMS, 13, 0, 0, ages)
    assert np.all(np.diff(expected) < 0) and np.all(expected > 0)  # older → fewer expected
    assert math.isfinite(bgnbd.log_likelihood(PAPER_PARAMS, 0, 0, 520.0))


def test_a_heavy_buyer_gone_silent_is_almost_surely_gone_without_nan_or_overflow() -> None:
    x = np.array([50.0, 300.0, 5_000.0, 1e6])
    t_x = np.array([10.0, 52.0, 100.0, 100.0])
    T = np.array([200.0, 520.0, 5_000.0, 1e5])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        alive = bgnbd.p_alive(PAPER_PARAMS, x, t_x, T)
        expected = bgnbd.expected_purchases(PAPER_PARAMS, 13, x, t_x, T)
        terms = bgnbd.log_likelihood_terms(PAPER_PARAMS, x, t_x, T)
    assert np.all(np.isfinite(alive)) and np.all(alive < 1e-30)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0) and np.all(expected < 1e-20)
    assert np.all(np.isfinite(terms))
    # the same heavy buyer still active is alive and expected to keep buying
    active = bgnbd.expected_purchases(PAPER_PARAMS, 13, 300.0, 519.0, 520.0)
    assert float(bgnbd.p_alive(PAPER_PARAMS, 300.0, 519.0, 520.0)) > 0.9
    assert 5 < float(active) < 10


def test_a_near_one_is_continuous() -> None:
    r, alpha, _a, b = PAPER_PARAMS.as_tuple()
    values = [
        float(bgnbd.expected_purchases(BgNbdParams(r, alpha, a, b), 13, 3, 20.0, 30.0))
        for a in (1 - 1e-4, 1.0, 1 + 1e-4)
    ]
    assert values[1] == pytest.approx(values[0], rel=1e-3)
    assert values[1] == pytest.approx(values[2], rel=1e-3)


def test_fitting_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no customers"):
        bgnbd.fit([], [], [])


def test_the_analytic_gradient_matches_finite_differences() -> None:
    from scipy.optimize import approx_fprime

    from plugins.churn.bgnbd import _objective, prepare_fit_data

    x, t_x, T = calibration_stats()
    data = (prepare_fit_data(x, t_x, T, np.ones_like(x)),)
    for point in ([0.0, 0.0, 0.0, 0.0], [-1.4, 1.5, -0.2, 0.9], [1.0, -1.0, 0.5, -0.5]):
        at = np.array(point)
        numeric = approx_fprime(at, lambda p: _objective(p, *data)[0], 1e-7)
        assert _objective(at, *data)[1] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_a_base_where_nobody_drops_out_converges_without_a_fallback_search() -> None:
    # Poisson buyers who never stop: the likelihood keeps rising as a and b grow
    # together, BFGS ends with "precision loss" at a vanishing gradient, and that is
    # the answer (P(alive) ~ 1 for everyone), not a reason for a slow polish.
    rng = np.random.default_rng(7)
    T = rng.uniform(10, 100, 5_000)
    x = rng.poisson(0.3 * T)
    t_x = np.where(x > 0, T - rng.exponential(1 / 0.3, T.size).clip(0, T), 0.0)
    result = bgnbd.fit(x, t_x, T)
    assert result.converged
    assert result.iterations < 200
    assert bgnbd.p_alive(result.params, x, t_x, T).min() > 0.9


def test_huge_a_and_b_fall_back_to_the_no_dropout_expectation() -> None:
    # Fitted on a base where nobody drops out: a, b run off to 1e5 and 1e7.
    params = bgnbd.BgNbdParams(0.98, 9.95, 3.5e5, 2.2e7)
    x, t_x, T = np.array([0, 3, 10]), np.array([0.0, 20.0, 40.0]), np.array([5.0, 30.0, 45.0])
    expected = bgnbd.expected_purchases(params, 13.0, x, t_x, T)
    assert np.all(np.isfinite(expected))
    no_dropout = (0.98 + x) * 13.0 / (9.95 + T) * bgnbd.p_alive(params, x, t_x, T)
    assert expected == pytest.approx(no_dropout, rel=1e-3)
