"""Contact cadence: when the account manager last called, visited or reviewed the account.

``contact`` events record the company reaching out (core's ``days_since_last_contact``
counts them all); ``payload.kind`` says what it was: ``call``, ``visit``, ``review``
(the yearly cooperation review of a key account, SEEDS §4.1) or ``message``. Rules turn
an overdue cadence into a task for the account manager (``rules/care_cadence.yaml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, literal, select

from core.aggregates import max_if
from core.store.tables import Event, table_of
from core.vocabulary import Feature, FeatureContext, FeatureType, Keeping

DAY = 86400.0
ev = table_of(Event)


class ContactFeatures:
    """Days since the last visit and the last account review."""

    name = "care_contacts"
    parallel_safe = True  # reads stored tables only; prepare does nothing
    keeping = Keeping(
        event_types=("contact",), aging=("days_since_last_visit", "days_since_last_review")
    )
    features: Sequence[Feature] = (
        Feature(
            "days_since_last_visit",
            FeatureType.NUMBER,
            "Days since a contact event with payload.kind 'visit' (null if none).",
            "days",
        ),
        Feature(
            "days_since_last_review",
            FeatureType.NUMBER,
            "Days since a contact event with payload.kind 'review', the yearly account "
            "review (null if none).",
            "days",
        ),
    )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        kind = func.lower(ev.c.payload["kind"].as_string())
        as_of = literal(ctx.as_of)
        last_visit = max_if(kind == "visit", ev.c.occurred_at)
        last_review = max_if(kind == "review", ev.c.occurred_at)
        return (
            select(
                ev.c.customer_id,
                ((as_of - last_visit) / literal(DAY)).label("days_since_last_visit"),
                ((as_of - last_review) / literal(DAY)).label("days_since_last_review"),
            )
            .where(ev.c.type == "contact", ev.c.occurred_at <= ctx.as_of)
            .group_by(ev.c.customer_id)
        )
