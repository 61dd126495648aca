"""``churn_risk``, ``churn_band`` and ``churn_reason``: the model and the signals combined.

Each signal becomes a score between 0 and 1, scaled by its weight (the most it can add
on its own), and the weighted scores combine as a noisy-OR::

    churn_risk = 1 - (1 - w_model·s_model) · (1 - w_inactivity·s_inactivity) · ...

so risk stays within 0–1, any single strong signal raises it, and several weak ones add
up. The scores:

=====================  =====================================================================
model                  1 - p_alive (BG/NBD)
inactivity             (recency_ratio - 1) / (silent_gaps_for_full_risk - 1), clipped to 0–1;
                       one-time buyers are measured against ``typical_gap_days``
decline                the larger of purchase_decline_90d and spend_decline_90d, clipped
complaints             complaints_90d / complaints_for_full_risk, clipped
satisfaction           the larger of (satisfied_score - last_survey_score) and the drop
                       (-survey_trend), each over (satisfied_score - 1), clipped
unanswered_contact     1 once a contact has waited unanswered unanswered_contact_days
=====================  =====================================================================

``churn_reason`` names the largest weighted score: ``inactivity`` (model or inactivity),
``complaints``, ``satisfaction``, ``spend_decline`` or ``unanswered_contact`` (ties in that
order), ``none`` when every score is 0. The thresholds and weights are those of the
``churn:`` settings in force at the instant (:mod:`plugins.churn.settings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Select,
    Table,
    case,
    func,
    insert,
    select,
)

from core.feature_sql import evaluated_once
from core.temp_tables import recreate, temp_table
from core.vocabulary import Feature, FeatureContext, FeatureType
from plugins.churn.settings import settings_in_force
from plugins.churn.sqlfuncs import clipped, greatest

REASONS = ("inactivity", "complaints", "satisfaction", "spend_decline", "unanswered_contact")
SIGNALS = (
    "model",
    "inactivity",
    "complaints",
    "satisfaction",
    "spend_decline",
    "unanswered_contact",
)
_PARAMETERS = (
    "w_model",
    "w_inactivity",
    "w_decline",
    "w_complaints",
    "w_satisfaction",
    "w_unanswered_contact",
    "band_high",
    "band_medium",
    "typical_gap_days",
    "silent_gaps_for_full_risk",
    "complaints_for_full_risk",
    "satisfied_score",
    "unanswered_contact_days",
)


def parameters_table() -> Table:
    return temp_table("churn_risk_parameters", *(Column(name, Float) for name in _PARAMETERS))


def fill_parameters(conn: Connection, as_of: int) -> None:
    """One row with the churn settings in force at ``as_of``, for the queries to join."""
    s = settings_in_force(conn, as_of)
    table = parameters_table()
    recreate(conn, table)
    w = s.weights
    values = (
        w.model,
        w.inactivity,
        w.decline,
        w.complaints,
        w.satisfaction,
        w.unanswered_contact,
        s.bands.high,
        s.bands.medium,
        s.typical_gap_days,
        s.silent_gaps_for_full_risk,
        s.complaints_for_full_risk,
        s.satisfied_score,
        s.unanswered_contact_days,
    )
    conn.execute(insert(table).values(dict(zip(_PARAMETERS, map(float, values), strict=True))))


def param(name: str) -> Any:
    """A churn parameter as an uncorrelated scalar subquery of its one-row table:
    evaluated once per statement, and, unlike a join to the table, it leaves the rows
    one source that SQLite streams instead of writing it out first."""
    table = parameters_table()
    return select(table.c[name]).scalar_subquery()


def parts_query(f: Any, carry: Sequence[str] = ()) -> Select[Any]:
    """Each signal's weighted score (0–weight) for every customer of the feature table:
    columns ``customer_id``, the ``carry`` columns of ``f``, one per signal
    (:data:`SIGNALS`) and ``recency_ratio``."""
    gap = func.coalesce(func.nullif(f.c.typical_purchase_gap_days, 0), param("typical_gap_days"))
    inactivity = (f.c.days_since_last_purchase / gap - 1.0) / (
        param("silent_gaps_for_full_risk") - 1.0
    )
    decline = greatest(
        func.coalesce(f.c.purchase_decline_90d, 0.0), func.coalesce(f.c.spend_decline_90d, 0.0)
    )
    scale = param("satisfied_score") - 1.0
    satisfaction = greatest(
        clipped((param("satisfied_score") - f.c.last_survey_score) / scale),
        clipped(-f.c.survey_trend / scale),
    )
    unanswered = case(
        (f.c.days_since_unanswered_contact >= param("unanswered_contact_days"), 1.0), else_=0.0
    )
    return select(
        f.c.customer_id,
        *(f.c[name] for name in carry),
        (param("w_model") * clipped(1.0 - f.c.p_alive)).label("model"),
        (param("w_inactivity") * clipped(inactivity)).label("inactivity"),
        (
            param("w_complaints") * clipped(f.c.complaints_90d / param("complaints_for_full_risk"))
        ).label("complaints"),
        (param("w_satisfaction") * satisfaction).label("satisfaction"),
        (param("w_decline") * clipped(decline)).label("spend_decline"),
        (param("w_unanswered_contact") * unanswered).label("unanswered_contact"),
        (f.c.days_since_last_purchase / func.nullif(f.c.typical_purchase_gap_days, 0)).label(
            "recency_ratio"
        ),
    ).select_from(f)


def scores_query(parts: Any, carry: Sequence[str] = ()) -> Select[Any]:
    """Risk (noisy-OR of the parts), band and strongest reason of every customer of
    ``parts`` (rows of :func:`parts_query`), with its ``carry`` columns."""
    keep: Any = 1.0
    for name in SIGNALS:
        keep = keep * (1.0 - parts.c[name])
    risk = 1.0 - keep
    top = greatest(*(parts.c[name] for name in SIGNALS))
    reason = case(
        (top <= 0, "none"),
        (greatest(parts.c.model, parts.c.inactivity) >= top, "inactivity"),
        (parts.c.complaints >= top, "complaints"),
        (parts.c.satisfaction >= top, "satisfaction"),
        (parts.c.spend_decline >= top, "spend_decline"),
        else_="unanswered_contact",
    )
    band = case(
        (risk >= param("band_high"), "high"), (risk >= param("band_medium"), "medium"), else_="low"
    )
    return select(
        parts.c.customer_id,
        *(parts.c[name] for name in carry),
        risk.label("churn_risk"),
        band.label("churn_band"),
        reason.label("churn_reason"),
        parts.c.recency_ratio,
    ).select_from(parts)


class ChurnRisk:
    """Churn risk 0–1 from p_alive and the signals, its band and its strongest reason."""

    name = "churn_risk"
    row_wise = True  # computed while the cycle writes the feature table
    needs = (
        "p_alive",
        "days_since_last_purchase",
        "typical_purchase_gap_days",
        "purchase_decline_90d",
        "spend_decline_90d",
        "complaints_90d",
        "last_survey_score",
        "survey_trend",
        "days_since_unanswered_contact",
    )
    features: Sequence[Feature] = (
        Feature(
            "churn_risk",
            FeatureType.NUMBER,
            "Risk that the customer is leaving, 0–1: BG/NBD 1 - p_alive and the churn "
            "signals combined (weights under churn: in the rule files).",
            "0–1",
            0,
        ),
        Feature(
            "churn_band",
            FeatureType.STRING,
            "high, medium or low: churn_risk against the thresholds under churn.bands.",
            default="low",
        ),
        Feature(
            "churn_reason",
            FeatureType.STRING,
            "The strongest signal: inactivity, complaints, satisfaction, spend_decline, "
            "unanswered_contact, or none.",
            default="none",
        ),
        # Here, not with the purchase signals: it ages by a ratio, which a kept set cannot.
        Feature(
            "recency_ratio",
            FeatureType.NUMBER,
            "days_since_last_purchase / typical_purchase_gap_days: 1 means on rhythm, 3 means "
            "silent for three usual gaps (null without a gap).",
            "gaps",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        fill_parameters(conn, ctx.as_of)

    def select(self, ctx: FeatureContext) -> Select[Any]:
        # The parts are a fenced subquery: each signal is computed once per customer,
        # where a plain subquery would be inlined into every use of a part in the
        # scores. It streams its rows (a MATERIALIZED common table expression, as fast,
        # writes them first; keyed TEMP tables of the parts and the scores, each written
        # and read again, cost a second more per cycle at 1M customers).
        parts = evaluated_once(parts_query(ctx.features, ctx.carry)).subquery("churn_risk_parts")
        return scores_query(parts, ctx.carry)


__all__ = ["REASONS", "SIGNALS", "ChurnRisk", "fill_parameters", "parts_query", "scores_query"]
