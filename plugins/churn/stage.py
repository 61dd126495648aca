"""The churn cycle stage: record the ``churn:`` settings and refit BG/NBD when it is due.

Runs before the feature table is computed (``before_features``). When the fit in force
at the cycle's instant is older than ``fit_every`` (or there is none), the stage fits
the model to every buyer's statistics as of that instant — one SQL GROUP BY, then a
weighted maximum-likelihood fit over the distinct ``(x, t_x, T)`` — and stores the
parameters with their fit date. The churn feature sets computed next score with that
fit and the recorded settings, so the rules of this very cycle see the new values (the
same ones ``feature_rows`` computes later for this instant), and the statistics just
aggregated for the fit are scored as they are instead of being aggregated again.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from sqlalchemy import Connection, insert

from core.vocabulary import CycleStage, FeatureContext, StageContext
from plugins.churn import bgnbd
from plugins.churn.model import fit_in_force, remember_all_buyers, score
from plugins.churn.settings import ChurnSettings, record_settings, settings_of
from plugins.churn.stats import (
    WEEK_DAYS,
    buyer_count,
    distinct_triples,
    fill_stats,
    triples_with_sample,
)
from plugins.churn.tables import model_fits

log = logging.getLogger(__name__)


def fit_due(conn: Connection, as_of: int, settings: ChurnSettings) -> bool:
    """Whether the fit in force at ``as_of`` is missing or at least ``fit_every`` old."""
    current = fit_in_force(conn, as_of)
    return current is None or as_of - current[1] >= settings.fit_every_seconds


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A stored fit, with the distinct statistics of every buyer it was fitted to (the
    statistics table stays filled with them for this cycle) and their scores."""

    result: bgnbd.FitResult
    triples: list[tuple[int, int, int, int]]
    scores: list[tuple[int, int, int, float]]


def fit_model(
    conn: Connection, ctx: FeatureContext, settings: ChurnSettings, cycle_id: int | None
) -> Fitted | None:
    """Fit BG/NBD to the buyers as of ``ctx.as_of`` (a fixed sample of ``fit_sample`` of
    them in a larger base) and store it; None when data is too thin."""
    stats = fill_stats(conn, ctx)
    buyers = buyer_count(conn, stats)
    if settings.fit_sample and buyers > settings.fit_sample:
        # Four parameters are pinned down long before a million buyers: fit to a fixed
        # pseudo-random share of them (the same customers every time), score everyone.
        # Both come from one GROUP BY; a sample too small to fit falls back to everyone.
        triples, drawn = triples_with_sample(conn, stats, settings.fit_sample / buyers)
    else:
        triples = drawn = distinct_triples(conn, stats)
    repeaters = sum(n for x, _t, _a, n in triples if x > 0)
    if repeaters < settings.min_repeat_customers:
        log.info(
            "churn: %s repeat buyers, fewer than %s: no fit",
            repeaters,
            settings.min_repeat_customers,
        )
        return None
    sample = triples
    if drawn is not triples and (
        sum(n for x, _t, _a, n in drawn if x > 0) >= settings.min_repeat_customers
    ):
        sample = drawn
        log.info("churn: fitting to %s of %s buyers", sum(n for *_, n in sample), buyers)
    x, t_x, age, weights = (list(column) for column in zip(*sample, strict=True))
    previous = fit_in_force(conn, ctx.as_of)
    result = bgnbd.fit(
        x,
        [days / WEEK_DAYS for days in t_x],
        [days / WEEK_DAYS for days in age],
        weights,
        initial=previous[0] if previous else None,
    )
    values = result.params.as_tuple()
    # On thin data (the first days of a history) a fit can have usable-looking
    # parameters and still give NaN expectations: every buyer must be scored.
    scores = score(result.params, triples)
    if not all(v > 0 and v < float("inf") for v in values) or not all(
        math.isfinite(row[3]) for row in scores
    ):
        log.warning(
            "churn: the BG/NBD fit as of %s did not give usable parameters %s (%s); "
            "the fit in force stays",
            ctx.as_of,
            values,
            result.message,
        )
        return None
    conn.execute(
        insert(model_fits).values(
            as_of=ctx.as_of,
            cycle_id=cycle_id,
            r=values[0],
            alpha=values[1],
            a=values[2],
            b=values[3],
            n_customers=result.customers,
            n_repeat_customers=repeaters,
            log_likelihood=result.log_likelihood,
        )
    )
    return Fitted(result, triples, scores)


def run_churn_stage(stage: StageContext) -> dict[str, int]:
    """Record settings and refit when due, before the churn features are computed."""
    settings = settings_of(stage.rules)
    conn, ctx = stage.conn, stage.ctx
    recorded = record_settings(conn, settings, ctx.as_of)
    fitted: Fitted | None = None
    if fit_due(conn, ctx.as_of, settings):
        fitted = fit_model(conn, ctx, settings, stage.cycle_id)
    if fitted is not None:
        # The statistics table holds every buyer as of this instant: the churn_model
        # set scores these triples instead of aggregating the events a second time.
        remember_all_buyers(ctx, fitted.triples, fitted.result.params, fitted.scores)
    return {
        "fitted": int(fitted is not None),
        "fit_customers": fitted.result.customers if fitted is not None else 0,
        "settings_recorded": int(recorded),
    }


CHURN_STAGE = CycleStage(
    name="churn",
    run=run_churn_stage,
    description="Before the features: refits BG/NBD when the fit in force is older than "
    "churn.fit_every and records changed churn settings, so this cycle's churn features "
    "use both.",
    before_features=True,
)

__all__ = ["CHURN_STAGE", "fit_due", "fit_model", "run_churn_stage"]
