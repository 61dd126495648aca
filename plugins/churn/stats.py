"""The BG/NBD sufficient statistics of each buyer, computed set-based in SQL.

Purchases are counted per calendar day in the configured time zone (several purchases
on one day are one purchase occasion, as in the paper). For each customer with a
purchase up to the instant:

- ``frequency``     x: purchase days after the first one (repeat purchases)
- ``recency_days``  t_x: days from the first to the last purchase day
- ``age_days``      T: days from the first purchase day to the instant's day

Day numbers make the three statistics small integers, so a large base has far fewer
distinct ``(x, t_x, T)`` triples than customers: the model fits and scores each triple
once (with its count) and SQL joins the scores back to the customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Integer, Select, Table, case, func, insert, select

from core.hashing import MODULUS, big, hash32_sql
from core.kept_sets import kept_rows
from core.store.rows import driver_rows
from core.store.tables import Event, table_of
from core.temp_tables import recreate, temp_table
from core.vocabulary import Feature, FeatureContext, FeatureType, Keeping

DAY = 86400
WEEK_DAYS = 7.0  # the model's time unit is the week, as in the paper

events = table_of(Event)


def stats_table() -> Table:
    return temp_table(
        "churn_purchase_stats",
        Column("customer_id", Integer, primary_key=True),
        Column("frequency", Integer, nullable=False),
        Column("recency_days", Integer, nullable=False),
        Column("age_days", Integer, nullable=False),
    )


def utc_offset(ctx: FeatureContext) -> int:
    """Seconds to add to an instant to count days in the configured zone (its offset at as_of)."""
    offset = dt.datetime.fromtimestamp(ctx.as_of, ctx.settings.zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


class PurchaseDays:
    """Per buyer: repeat purchase days, and the first and last purchase day numbers.

    Not features (nothing registers it): the statistics' part that only new purchases
    change, kept between cycles (:func:`core.kept_sets.kept_rows`). Day numbers count
    days in the configured zone at the instant's offset, so the offset is the kept
    rows' variant: a new one (daylight saving) rebuilds them.
    """

    name = "churn_purchase_days"
    keeping = Keeping(event_types=("purchase",))
    features: Sequence[Feature] = (
        Feature("frequency", FeatureType.NUMBER, "Purchase days after the first one."),
        Feature("first_day", FeatureType.NUMBER, "Day number of the first purchase."),
        Feature("last_day", FeatureType.NUMBER, "Day number of the last purchase."),
    )

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        day = (events.c.occurred_at + self.offset) // DAY
        return (
            select(
                events.c.customer_id,
                (func.count(day.distinct()) - 1).label("frequency"),
                func.min(day).label("first_day"),
                func.max(day).label("last_day"),
            )
            .where(
                events.c.type == "purchase",
                events.c.occurred_at <= ctx.as_of,
                ctx.limit_to(events.c.customer_id),
            )
            .group_by(events.c.customer_id)
        )


def fill_stats(conn: Connection, ctx: FeatureContext) -> Table:
    """(Re)build the TEMP statistics table as of ``ctx.as_of``, for the customers being
    computed (``ctx.customer_ids``; None: the whole base, whose purchase days are kept
    between cycles)."""
    table = stats_table()
    recreate(conn, table)
    offset = utc_offset(ctx)
    rows = kept_rows(conn, PurchaseDays(offset), ctx, variant=f"utc offset {offset}")
    today = (ctx.as_of + offset) // DAY
    conn.execute(
        insert(table).from_select(
            ["customer_id", "frequency", "recency_days", "age_days"],
            select(
                rows.c.customer_id,
                rows.c.frequency,
                rows.c.last_day - rows.c.first_day,
                today - rows.c.first_day,
            ),
        )
    )
    return table


SAMPLE_HASH = 2654435761  # Knuth's multiplier: consecutive ids spread evenly


def in_sample(customer_id: Any, share: float) -> Any:
    """Whether a customer falls in the fixed pseudo-random ``share`` (0–1) of the base:
    the same customers at every instant and on every backend."""
    return hash32_sql(customer_id, SAMPLE_HASH) < big(int(share * MODULUS))


def triples_with_sample(
    conn: Connection, table: Table, share: float
) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """Each distinct (frequency, recency_days, age_days) with its number of customers,
    over every buyer and over the fixed ``share`` given by :func:`in_sample`, in one
    GROUP BY: the sample's count of a triple is summed beside its total."""
    sampled = func.sum(case((in_sample(table.c.customer_id, share), 1), else_=0))
    query = select(
        table.c.frequency, table.c.recency_days, table.c.age_days, func.count(), sampled
    ).group_by(table.c.frequency, table.c.recency_days, table.c.age_days)
    rows = driver_rows(conn, query)
    every = [(x, t, age, n) for x, t, age, n, _ in rows]
    return every, [(x, t, age, int(m)) for x, t, age, _, m in rows if m]


def buyer_count(conn: Connection, table: Table) -> int:
    """How many buyers the statistics table holds."""
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def distinct_triples(conn: Connection, table: Table) -> list[tuple[int, int, int, int]]:
    """Each distinct (frequency, recency_days, age_days) with the number of customers
    (a sample beside: :func:`triples_with_sample`)."""
    query = select(
        table.c.frequency, table.c.recency_days, table.c.age_days, func.count()
    ).group_by(table.c.frequency, table.c.recency_days, table.c.age_days)
    # Integer columns and count(*) come back as ints from both drivers: plain tuples
    # straight from the driver, no result rows (a large base has many triples).
    return driver_rows(conn, query)


__all__ = [
    "DAY",
    "WEEK_DAYS",
    "buyer_count",
    "distinct_triples",
    "fill_stats",
    "in_sample",
    "stats_table",
    "triples_with_sample",
    "utc_offset",
]
