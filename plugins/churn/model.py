"""``p_alive`` and ``expected_purchases_90d``: the BG/NBD fit in force, scored in bulk.

``prepare`` builds the buyers' statistics in SQL (only for the customers being computed,
``ctx.customer_ids`` — the whole base in a cycle, a few in ``feature_rows``). P(alive)
has a closed form (paper eq. 11) and is computed by the SELECT itself, per buyer, with
the fit's parameters as bound values: no row goes through Python. The expected purchases
need the hypergeometric function, so when they are wanted each distinct ``(x, t_x, T)``
is scored once with numpy and written to a TEMP table that the SELECT joins. It never
fits: that is the cycle stage's job (:mod:`plugins.churn.stage`), so computing a few
customers' features is cheap and writes nothing but TEMP tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    Select,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from core.store.rows import driver_cursor
from core.store.statistics import rows_appended
from core.temp_tables import KEY_ORDERED, recreate, temp_table
from core.vocabulary import Feature, FeatureContext, FeatureType
from plugins.churn import bgnbd
from plugins.churn.stats import WEEK_DAYS, distinct_triples, fill_stats, stats_table
from plugins.churn.tables import model_fits

HORIZON_DAYS = 90
FIT_KEY = "churn.model_fit"  # in ``FeatureContext.cycle_state``: the fit ``select`` scores with
# Above this ln(P(dead) / P(alive)) P(alive) is below 1e-304: 0, where PostgreSQL's exp()
# would overflow.
LOG_ODDS_CAP = 700.0


def scores_table() -> Table:
    return temp_table(
        "churn_model_scores",
        Column("frequency", Integer, primary_key=True),
        Column("recency_days", Integer, primary_key=True),
        Column("age_days", Integer, primary_key=True),
        Column("expected_purchases_90d", Float, nullable=False),
        **KEY_ORDERED,
    )


def fit_in_force(conn: Connection, as_of: int) -> tuple[bgnbd.BgNbdParams, int] | None:
    """The latest fit made at or before ``as_of``: its parameters and fit date."""
    row = conn.execute(
        select(
            model_fits.c.r, model_fits.c.alpha, model_fits.c.a, model_fits.c.b, model_fits.c.as_of
        )
        .where(model_fits.c.as_of <= as_of)
        .order_by(model_fits.c.as_of.desc(), model_fits.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return bgnbd.BgNbdParams(row.r, row.alpha, row.a, row.b), int(row.as_of)


def score(
    params: bgnbd.BgNbdParams, triples: Sequence[tuple[int, int, int, int]]
) -> list[tuple[int, int, int, float]]:
    """Score each (x, t_x days, T days, count): (x, t_x, T, purchases in 90 days).

    P(alive) is not among them: the feature SELECT computes it (:func:`p_alive_sql`)."""
    if not triples:
        return []
    data = np.asarray(triples, dtype=np.int64)
    x, t_x, T = data[:, 0], data[:, 1] / WEEK_DAYS, data[:, 2] / WEEK_DAYS
    expected = bgnbd.expected_purchases(params, HORIZON_DAYS / WEEK_DAYS, x, t_x, T)
    columns = (*(data[:, i].tolist() for i in range(3)), expected.tolist())
    return list(zip(*columns, strict=True))


def bulk_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    columns: Sequence[str] | None = None,
) -> None:
    """Append many rows fast: COPY on PostgreSQL, the driver's executemany elsewhere.

    ``columns`` names the columns of each row tuple (default: every column, in order).
    """
    if not rows:
        return
    names = list(columns or (c.name for c in table.columns))
    listed = ", ".join(names)
    if conn.dialect.name == "postgresql":
        with (
            driver_cursor(conn) as cursor,
            cursor.copy(f"COPY {table.name} ({listed}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        rows_appended(conn, table.name, len(rows))  # COPY passes the engine's listener
        return
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in names)
    # The driver's own executemany: the tuples go in as they are, no per-row processing.
    with driver_cursor(conn) as cursor:
        cursor.executemany(f"INSERT INTO {table.name} ({listed}) VALUES ({marks})", rows)


ALL_BUYERS_KEY = "churn.all_buyers_triples"


@dataclass(frozen=True)
class AllBuyers:
    """The distinct statistics of every buyer as of the cycle's instant (the statistics
    table holds them), and their scores under the fit ``params``."""

    triples: list[tuple[int, int, int, int]]
    params: bgnbd.BgNbdParams
    scores: list[tuple[int, int, int, float]]


def remember_all_buyers(
    ctx: FeatureContext,
    triples: Sequence[tuple[int, int, int, int]],
    params: bgnbd.BgNbdParams,
    scores: Sequence[tuple[int, int, int, float]],
) -> None:
    """Note for this cycle's churn_model set that the statistics table holds every buyer
    as of ``ctx.as_of``, with these distinct triples, scored under ``params`` (the
    churn stage, after a fit)."""
    ctx.cycle_state[ALL_BUYERS_KEY] = AllBuyers(list(triples), params, list(scores))


def _all_buyers(ctx: FeatureContext) -> AllBuyers | None:
    """What :func:`remember_all_buyers` left for a whole-base computation (taken: the
    statistics table then already holds every buyer), else None."""
    if ctx.customer_ids is not None:
        return None
    found: AllBuyers | None = ctx.cycle_state.pop(ALL_BUYERS_KEY, None)
    return found


def p_alive_sql(params: bgnbd.BgNbdParams, stats: Table) -> ColumnElement[float]:
    """P(alive | x, t_x, T) of each row of the statistics table, in SQL: the expression of
    :func:`plugins.churn.bgnbd.p_alive` (1 without a repeat purchase)."""
    r, alpha, a, b = (literal(float(v)) for v in params.as_tuple())
    week = literal(float(WEEK_DAYS))
    x = stats.c.frequency
    t_x, T = stats.c.recency_days / week, stats.c.age_days / week
    log_odds = (
        func.ln(a) - func.ln(b + x - 1) + (r + x) * (func.ln(alpha + T) - func.ln(alpha + t_x))
    )
    return case(
        (x <= 0, literal(1.0)),
        (log_odds > LOG_ODDS_CAP, literal(0.0)),
        else_=literal(1.0) / (literal(1.0) + func.exp(log_odds)),
    )


def fill_scores(
    conn: Connection,
    ctx: FeatureContext,
    triples: Sequence[tuple[int, int, int, int]] | None = None,
) -> None:
    """Statistics of the buyers among ``ctx.customer_ids`` (all: None), scored with the fit in force.

    ``triples`` are the distinct statistics of every buyer when the caller has just
    filled the statistics table for the whole base: they are scored as they are instead
    of being aggregated from the events a second time. In a cycle whose churn stage
    fitted, the stage left them in ``ctx.cycle_state`` for the cycle's feature table.
    """
    scores = scores_table()
    recreate(conn, scores)
    remembered = _all_buyers(ctx) if triples is None else None
    if remembered is not None:
        triples = remembered.triples
    if triples is None:
        triples = distinct_triples(conn, fill_stats(conn, ctx))
    fit = fit_in_force(conn, ctx.as_of)
    if fit is None:
        return
    if remembered is not None and remembered.params == fit[0]:
        bulk_insert(conn, scores, remembered.scores)  # scored when the stage checked the fit
        return
    bulk_insert(conn, scores, score(fit[0], triples))


def _wants_expected(ctx: FeatureContext) -> bool:
    return ctx.wanted is None or "expected_purchases_90d" in ctx.wanted


class ChurnModelFeatures:
    """BG/NBD P(alive) and expected purchases, from the stored fit in force."""

    name = "churn_model"
    features: Sequence[Feature] = (
        Feature(
            "p_alive",
            FeatureType.NUMBER,
            "BG/NBD probability that the customer still buys (null before the first fit "
            "or without a purchase; 1 for one-time buyers).",
            "0–1",
        ),
        Feature(
            "expected_purchases_90d",
            FeatureType.NUMBER,
            "BG/NBD expected purchase days in the next 90 days (null like p_alive).",
            "purchases",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        fit = fit_in_force(conn, ctx.as_of)
        ctx.cycle_state[FIT_KEY] = None if fit is None else fit[0]
        if _wants_expected(ctx):
            fill_scores(conn, ctx)
        elif _all_buyers(ctx) is None:  # else the stage's fit filled it for everyone
            fill_stats(conn, ctx)

    def select(self, ctx: FeatureContext) -> Select[Any]:
        stats = stats_table()
        params: bgnbd.BgNbdParams | None = ctx.cycle_state.get(FIT_KEY)
        if params is None:  # no fit in force: no scores
            none = null().cast(Float)
            return select(
                stats.c.customer_id,
                none.label("p_alive"),
                none.label("expected_purchases_90d"),
            ).where(false())
        if not _wants_expected(ctx):
            return select(
                stats.c.customer_id,
                p_alive_sql(params, stats).label("p_alive"),
                null().cast(Float).label("expected_purchases_90d"),
            )
        scores = scores_table()
        return select(
            stats.c.customer_id,
            p_alive_sql(params, stats).label("p_alive"),
            scores.c.expected_purchases_90d,
        ).select_from(
            stats.join(
                scores,
                and_(
                    scores.c.frequency == stats.c.frequency,
                    scores.c.recency_days == stats.c.recency_days,
                    scores.c.age_days == stats.c.age_days,
                ),
            )
        )


__all__ = [
    "HORIZON_DAYS",
    "ChurnModelFeatures",
    "bulk_insert",
    "fill_scores",
    "fit_in_force",
    "p_alive_sql",
    "remember_all_buyers",
    "score",
]
