"""Survey answers beyond the core CSAT features: the Net Promoter Score question.

A ``survey`` event carries the CSAT score (1–5) in ``value`` and, when the survey asked
it, the NPS answer (0–10) in ``payload.nps``; ``ref`` may name the ticket it is about::

    {"customer": "C-1", "type": "survey", "occurred_at": "...", "value": 2,
     "ref": "T-1001", "payload": {"nps": 3}}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, Select, cast, func, literal, select

from core.store.tables import Event, table_of
from core.vocabulary import Feature, FeatureContext, FeatureType, Keeping

DAY = 86400.0
ev = table_of(Event)


def nps_answer() -> Any:
    """The NPS answer (0–10) of a survey event, or NULL."""
    return cast(ev.c.payload["nps"].as_float(), Integer)


class SurveyFeatures:
    """The latest NPS answer."""

    name = "care_surveys"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    keeping = Keeping(event_types=("survey",), aging=("days_since_last_nps",))
    features: Sequence[Feature] = (
        Feature(
            "last_nps_score",
            FeatureType.NUMBER,
            "The latest answer to 'would you recommend us' (0–10; 9–10 promoter, 0–6 "
            "detractor); null if never asked.",
            "0–10",
        ),
        Feature(
            "days_since_last_nps",
            FeatureType.NUMBER,
            "Days since that answer (null if none).",
            "days",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        answer = nps_answer()
        ranked = (
            select(
                ev.c.customer_id,
                answer.label("score"),
                ev.c.occurred_at,
                func.row_number()
                .over(
                    partition_by=ev.c.customer_id,
                    order_by=(ev.c.occurred_at.desc(), ev.c.id.desc()),
                )
                .label("rank"),
            )
            .where(
                ev.c.type == "survey",
                ev.c.occurred_at <= ctx.as_of,
                answer.is_not(None),
                ctx.limit_to(ev.c.customer_id),  # the window is over customers: filter inside
            )
            .subquery("nps_ranked")
        )
        return select(
            ranked.c.customer_id,
            ranked.c.score.label("last_nps_score"),
            ((literal(ctx.as_of) - ranked.c.occurred_at) / literal(DAY)).label(
                "days_since_last_nps"
            ),
        ).where(ranked.c.rank == 1)
