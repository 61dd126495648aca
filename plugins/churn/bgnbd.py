"""The BG/NBD model of Fader, Hardie & Lee (2005), vectorised with numpy and scipy.

"Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
Marketing Science 24(2). While active, a customer buys at a Poisson rate λ ~ Gamma(r, α);
after every purchase she drops out for good with probability p ~ Beta(a, b). From each
customer's sufficient statistics — ``x`` repeat purchases, the time ``t_x`` of the last
one and the length ``T`` of her observation, both measured from her first purchase (in
weeks here, as in the paper) — the model gives:

- the likelihood (paper eq. 6), maximised by :func:`fit` over the whole base;
- P(alive | x, t_x, T) (eq. 11), :func:`p_alive`;
- the expected number of purchases in the next ``t`` weeks (eq. 10),
  :func:`expected_purchases`.

Everything is computed in log space: a heavy buyer who went silent long ago has
P(alive) ≈ 0 (``exp`` of a large negative number), never NaN or an overflow. The
Gaussian hypergeometric function of eq. 10 is evaluated after Euler's transformation,
whose parameters do not grow with ``x`` and whose value stays bounded.

All functions take numpy arrays (or scalars) and work on the whole base at once;
``weights`` lets the fit count each distinct ``(x, t_x, T)`` once with its multiplicity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, special  # type: ignore[import-untyped]

Array = npt.NDArray[np.float64]
ArrayLike = Any  # numbers or arrays of numbers

_A_NEAR_ONE = 1e-7  # eq. 10 divides by (a - 1): nudge a off 1 to stay on its continuous limit


@dataclass(frozen=True)
class BgNbdParams:
    """The four parameters: purchase rates ~ Gamma(r, alpha), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood fit: the parameters and how it went."""

    params: BgNbdParams
    log_likelihood: float  # summed over customers (weights applied)
    customers: int  # total weight: customers the fit saw
    converged: bool
    iterations: int
    message: str


def _arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def log_likelihood_terms(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """ln L(r, α, a, b | x, t_x, T) of each customer (paper eq. 6, in log space)."""
    r, alpha, a, b = params.as_tuple()
    x, t_x, T = _arrays(x, t_x, T)
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    still_alive = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1): dropped out right after t_x
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    result: Array = common + np.logaddexp(still_alive, dropped)
    return result


def log_likelihood(
    params: BgNbdParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """The log-likelihood of the whole base (each customer counted ``weights`` times)."""
    terms = log_likelihood_terms(params, x, t_x, T)
    if weights is None:
        return float(np.sum(terms))
    return float(np.dot(np.asarray(weights, dtype=np.float64), terms))


@dataclass(frozen=True)
class FitData:
    """The statistics in the shape the objective wants, prepared once per fit.

    The gamma and beta functions and their derivatives depend on a customer's ``x``
    only, and a base has few distinct ``x`` (tens) among many customers: they are
    evaluated once per distinct ``x`` and weighted by the customers who have it.
    """

    x: Array  # per row
    t_x: Array
    T: Array
    w: Array  # customers per row
    repeat: npt.NDArray[np.bool_]
    xs: Array  # the distinct x
    row_x: npt.NDArray[np.intp]  # index into ``xs`` of each row's x
    wx: Array  # customers per distinct x
    total: float


def prepare_fit_data(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, w: ArrayLike) -> FitData:
    x_arr, t_arr, T_arr, w_arr = _arrays(x, t_x, T, w)
    xs, row_x = np.unique(x_arr, return_inverse=True)
    wx = np.bincount(row_x, weights=w_arr, minlength=xs.size).astype(np.float64)
    return FitData(x_arr, t_arr, T_arr, w_arr, x_arr > 0, xs, row_x, wx, float(np.sum(w_arr)))


def _objective(log_params: Array, data: FitData) -> tuple[float, Array]:
    """Mean negative log-likelihood and its gradient with respect to the log-parameters."""
    r, alpha, a, b = np.exp(np.clip(log_params, -30.0, 30.0))
    x, w, xs, wx = data.x, data.w, data.xs, data.wx
    psi, gammaln, betaln = special.digamma, special.gammaln, special.betaln
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Per distinct x: the factors of eq. 6 that do not involve t_x or T.
        log_lag = np.log(np.where(xs > 0, b + xs - 1, 1.0))
        by_x = gammaln(r + xs) + betaln(a, b + xs)
        value = wx @ by_x + data.total * (-gammaln(r) + r * np.log(alpha) - betaln(a, b))
        # Per row: alive to T, or dropped out right after t_x.
        log_alpha_T = np.log(alpha + data.T)
        log_alpha_tx = np.log(alpha + data.t_x)
        still_alive = -(r + x) * log_alpha_T
        dropped = np.where(
            data.repeat, np.log(a) - log_lag[data.row_x] - (r + x) * log_alpha_tx, -np.inf
        )
        total_log = np.logaddexp(still_alive, dropped)
        w_alive = w * np.exp(still_alive - total_log)
        w_dropped = w * np.exp(dropped - total_log)
    value += float(w @ total_log)
    d_r = (
        wx @ psi(r + xs)
        + data.total * (np.log(alpha) - psi(r))
        - w_alive @ log_alpha_T
        - w_dropped @ log_alpha_tx
    )
    d_alpha = (
        data.total * r / alpha
        - w_alive @ ((r + x) / (alpha + data.T))
        - w_dropped @ ((r + x) / (alpha + data.t_x))
    )
    by_x_dropped = np.bincount(data.row_x, weights=w_dropped, minlength=xs.size)
    d_ab = data.total * psi(a + b) - wx @ psi(a + b + xs)
    d_a = d_ab + float(np.sum(by_x_dropped)) / a
    d_b = d_ab + wx @ psi(b + xs) - data.total * psi(b) - by_x_dropped @ np.exp(-log_lag)
    gradient = np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
    mean = -float(value) / data.total
    if not np.isfinite(mean) or not np.all(np.isfinite(gradient)):
        return 1e300, np.zeros(4)
    return mean, -gradient / data.total


def fit(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    initial: BgNbdParams | None = None,
) -> FitResult:
    """Maximum-likelihood estimate of (r, α, a, b), searched over their logarithms.

    The parameters must be positive, so the search runs over ``log`` of each, which
    also evens out their scales. BFGS with the analytic gradient converges in a few
    dozen evaluations; should it stop short of a vanishing gradient, Nelder–Mead (no
    gradient) takes over from where it stopped. Raises ValueError when there is nothing to fit.
    """
    x_arr = np.asarray(x, dtype=np.float64)
    w = np.ones_like(x_arr) if weights is None else np.asarray(weights, dtype=np.float64)
    if x_arr.size == 0 or float(np.sum(w)) <= 0:
        raise ValueError("no customers to fit the BG/NBD model to")
    start = np.log(np.array((initial or BgNbdParams(1.0, 1.0, 1.0, 1.0)).as_tuple()))
    data = (prepare_fit_data(x_arr, t_x, T, w),)
    best = optimize.minimize(
        _objective, start, args=data, jac=True, method="BFGS", options={"gtol": 1e-7}
    )
    iterations = int(best.nit)
    # BFGS reports "precision loss" when the line search cannot improve in the last
    # digits, e.g. at an optimum where a and b run off to infinity together (nobody
    # drops out); with a vanishing gradient that is the optimum, not a failure.
    stationary = bool(np.all(np.isfinite(best.jac))) and float(np.max(np.abs(best.jac))) < 1e-4
    if not (best.success or stationary):
        polish = optimize.minimize(
            lambda p: _objective(p, *data)[0],
            best.x,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 1000},
        )
        iterations += int(polish.nit)
        best = polish if polish.fun <= best.fun else best
    params = BgNbdParams(*(float(v) for v in np.exp(best.x)))
    return FitResult(
        params=params,
        log_likelihood=-float(best.fun) * data[0].total,
        customers=round(data[0].total),
        converged=bool(best.success or stationary) and bool(np.all(np.isfinite(best.x))),
        iterations=iterations,
        message=str(best.message),
    )


def _log_odds_dead(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """ln[P(dead) / P(alive)] given the history; -inf when there was no repeat purchase."""
    r, alpha, a, b = params.as_tuple()
    repeat = x > 0
    safe = np.where(repeat, b + x - 1, 1.0)
    odds = np.log(a) - np.log(safe) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    result: Array = np.where(repeat, odds, -np.inf)
    return result


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(the customer is still active | x, t_x, T) (paper eq. 11).

    1 for a customer without a repeat purchase (the model lets customers drop out only
    right after a purchase); close to 0 for a frequent buyer silent for a long time.
    """
    x_arr, t_arr, T_arr = _arrays(x, t_x, T)
    result: Array = special.expit(-_log_odds_dead(params, x_arr, t_arr, T_arr))
    return result


def expected_purchases(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """E[purchases in (T, T + t] | x, t_x, T] (paper eq. 10), ``t`` in the same unit as T.

    With z = t / (α + T + t), Euler's transformation turns
    ``(1 - z)^(r+x) · 2F1(r+x, b+x; a+b+x-1; z)`` into
    ``(1 - z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose parameters stay small for
    heavy buyers, so the difference in eq. 10 neither overflows nor loses its digits.
    """
    r, alpha, a, b = params.as_tuple()
    if abs(a - 1.0) < _A_NEAR_ONE:
        a = 1.0 + _A_NEAR_ONE
    t_arr, x_arr, tx_arr, T_arr = _arrays(t, x, t_x, T)
    z = t_arr / (alpha + T_arr + t_arr)
    c = a + b + x_arr - 1
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    # 1 - (1 - z)^(a-1) · hyp, computed as -expm1(...) when the product is positive
    log_one_minus_z = np.log1p(-z)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(
            hyp > 0,
            -np.expm1((a - 1) * log_one_minus_z + np.log(np.where(hyp > 0, hyp, 1.0))),
            1.0 - np.exp((a - 1) * log_one_minus_z) * hyp,
        )
    alive = p_alive(params, x_arr, tx_arr, T_arr)
    expected: Array = (c / (a - 1)) * tail * alive
    # When a and b are huge (a base where almost nobody drops out), 2F1 overflows; the
    # model is then the NBD without dropout, whose expectation is (r + x) t / (α + T).
    limit = (r + x_arr) * t_arr / (alpha + T_arr) * alive
    expected = np.where(np.isfinite(expected), expected, limit)
    return np.where(t_arr > 0, expected, 0.0)


def expected_purchases_new_customer(params: BgNbdParams, t: ArrayLike) -> Array:
    """E[X(t)]: expected purchases in ``t`` after the first one, for a new customer (eq. 9)."""
    r, alpha, a, b = params.as_tuple()
    if abs(a - 1.0) < _A_NEAR_ONE:
        a = 1.0 + _A_NEAR_ONE
    (t_arr,) = _arrays(t)
    z = t_arr / (alpha + t_arr)
    # (alpha/(alpha+t))^r 2F1(r, b; a+b-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b-1; z)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
    result: Array = ((a + b - 1) / (a - 1)) * (1.0 - np.exp((a - 1) * np.log1p(-z)) * hyp)
    return result


__all__ = [
    "BgNbdParams",
    "FitResult",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit",
    "log_likelihood",
    "log_likelihood_terms",
    "p_alive",
]
