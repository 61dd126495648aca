"""Conversion-rate uplift of a treatment over a holdout, with a 95% confidence interval.

The interval of the difference of two proportions is Newcombe's hybrid score interval
(method 10 of Newcombe 1998, "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17): it combines the Wilson score intervals of both
rates, stays within [-1, 1] and behaves with small groups and rates near 0 or 1, where
the textbook Wald interval does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials`` ((0, 1) without trials)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Uplift:
    """Treatment rate minus holdout rate, and its 95% interval."""

    difference: float
    low: float
    high: float


def uplift(
    treated_successes: int, treated: int, held_successes: int, held: int, z: float = Z_95
) -> Uplift | None:
    """Newcombe's interval for p_treated - p_held; None when a group is empty."""
    if treated <= 0 or held <= 0:
        return None
    p1, p2 = treated_successes / treated, held_successes / held
    l1, u1 = wilson_interval(treated_successes, treated, z)
    l2, u2 = wilson_interval(held_successes, held, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Uplift(d, low, high)


__all__ = ["Uplift", "uplift", "wilson_interval"]
