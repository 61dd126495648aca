"""RFM scores: recency, frequency and monetary value, 1–5 by quintile over the active base.

As of the instant ``T``, with the window ``W`` of the ``tiers.rfm`` settings (365 days
by default):

- the **active base** is every customer with a purchase in ``(T - W, T]``;
- **recency** ranks the instant of the latest purchase, **frequency** the number of
  purchases in the window, **monetary** the net spend in the window (purchases minus
  refunds, minor units); higher is better for all three, so 5 is the most recent,
  most frequent and biggest-spending fifth;
- **score** = ``1 + floor(5 * position / n)``, where ``position`` is the customer's
  0-based place in ascending order of the value and ``n`` the size of the active base.
  With ``ties: average`` (the default) equal values share the middle position of their
  group (``position = rank_min - 1 + (ties - 1) / 2``, computed in integers as
  ``1 + (5 * (2 * (rank_min - 1) + ties - 1)) / (2 * n)``), so two customers who behave
  the same always score the same; with ``ties: customer_id`` equal values are ordered by
  customer id (``ROW_NUMBER``), which fills the quintiles evenly like ``NTILE``.
  Only integers enter the arithmetic, so SQLite and PostgreSQL agree exactly.
- ``rfm_score`` = R + F + M (3–15) and ``rfm_segment`` names the cell of the grid below,
  with ``FM = (F + M + 1) // 2`` (the rounded-up mean of F and M).

Customers outside the active base get no scores; their segment is ``lapsed`` if they
bought before the window and ``prospect`` if they never bought.

**How it is computed.** A score only grows with the value (with ``customer_id`` ties:
with the pair value, customer id), so the ranking of the whole base comes down to four
**cuts** per dimension: the smallest value (pair) that reaches each score 2–5. The cuts
are computed once per instant and settings from the active base's values (one SQL
aggregation, then a sort per dimension: :func:`cuts_of_active`) and kept in the process;
every customer's scores are then a few comparisons of their own values with the cuts. So the cycle ranks the base
once, and a delivery or ``explain`` for a few customers at the same instant reads only
their events. The cycle aggregates the values once into a TEMP table that gives both
the cuts and every customer's values.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    Select,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
)

from core.aggregates import count_if, max_if, sum_if
from core.feature_sql import evaluated_once
from core.kept_sets import kept_rows, may_keep
from core.store.rows import driver_rows
from core.store.tables import Event, table_of
from core.temp_tables import recreate, temp_table
from core.vocabulary import Feature, FeatureContext, FeatureType, Keeping
from plugins.tiering.in_force import settings_in_force
from plugins.tiering.sql import int_div, integer
from plugins.tiering.tiers import RfmSettings

ev = table_of(Event)
DAY = 86400
N, S = FeatureType.NUMBER, FeatureType.STRING
DIMENSIONS = ("recency", "frequency", "monetary")
CACHED_CUTS = 32
# per dimension, for the scores 2, 3, 4, 5: (smallest value, its customer id or None)
Cuts = dict[str, list[tuple[int | None, int | None]]]


# rfm_segment by (R, FM): rows R = 5 … 1, columns FM = 1 … 5.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new_customers", "potential_loyalists", "potential_loyalists", "champions", "champions"),
    4: ("promising", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    3: ("about_to_sleep", "need_attention", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "lost", "at_risk", "cant_lose", "cant_lose"),
}
LAPSED, PROSPECT = "lapsed", "prospect"
SEGMENTS: tuple[str, ...] = tuple(
    dict.fromkeys([*(name for row in SEGMENT_GRID.values() for name in row), LAPSED, PROSPECT])
)


def segment_of(recency: int, frequency: int, monetary: int) -> str:
    """The segment of one customer's scores (the Python twin of the SQL CASE)."""
    return SEGMENT_GRID[recency][(frequency + monetary + 1) // 2 - 1]


def values_select(as_of: int, rfm: RfmSettings) -> Select[Any]:
    """Per customer with purchases or refunds: whether active, and the three raw values."""
    start = as_of - rfm.window_seconds
    is_purchase = ev.c.type == "purchase"
    in_window = ev.c.occurred_at > start
    amount = func.coalesce(ev.c.amount, 0)
    signed = case((ev.c.type == "refund", -amount), else_=amount)
    frequency = count_if(and_(is_purchase, in_window))
    return (
        select(
            ev.c.customer_id.label("customer_id"),
            case((frequency > 0, integer(1)), else_=integer(0)).label("active"),
            count_if(is_purchase).label("purchases_ever"),
            max_if(and_(is_purchase, in_window), ev.c.occurred_at).label("recency"),
            frequency.label("frequency"),
            sum_if(in_window, signed).label("monetary"),
        )
        .where(ev.c.occurred_at <= as_of, ev.c.type.in_(["purchase", "refund"]))
        .group_by(ev.c.customer_id)
    )


def cuts_of(values: Any, ids: Any, ties: str) -> list[tuple[int | None, int | None]]:
    """The four cuts (scores 2–5) of one dimension, from the active base's values.

    ``ties: customer_id``: the score of the 1-based place ``p`` in (value, customer id)
    order is ``1 + 5 (p - 1) // n``, so score ``k`` is first reached at place
    ``ceil((k - 1) n / 5) + 1``. Otherwise every value scores
    ``1 + 5 (2 (rank - 1) + ties - 1) // (2 n)`` (rank: its first place; ties: how many
    share it) and the cut of ``k`` is the smallest value scoring at least ``k``.
    """
    n = len(values)
    cuts: list[tuple[int | None, int | None]] = []
    if ties == "customer_id":
        order = np.lexsort((ids, values))
        for k in range(2, 6):
            place = ((k - 1) * n + 4) // 5  # 0-based
            cuts.append(
                (int(values[order[place]]), int(ids[order[place]])) if place < n else (None, None)
            )
        return cuts
    distinct, counts = np.unique(values, return_counts=True)
    rank = np.cumsum(counts) - counts + 1
    scores = 1 + (5 * (2 * (rank - 1) + counts - 1)) // max(2 * n, 1)
    for k in range(2, 6):
        reached = np.flatnonzero(scores >= k)
        cuts.append((int(distinct[reached[0]]), None) if reached.size else (None, None))
    return cuts


def cuts_of_active(conn: Connection, values: Any, rfm: RfmSettings) -> Cuts:
    """Rank the active base and return its cuts: the active rows of ``values`` (a table
    or subquery with ``customer_id``, ``active`` and the three dimensions).

    The rows come as plain tuples from the driver and go into one flat array (numpy reads
    them many times faster than result rows); the customer ids are read only when they
    break ties. At 1M customers the fetch of 800,000 active rows, about 0.8 s, is
    nearly all of it; the sorts take 0.2 s.
    """
    by_id = rfm.ties == "customer_id"
    columns = [values.c[dim] for dim in DIMENSIONS]
    if by_id:
        columns.insert(0, values.c.customer_id)
    rows = driver_rows(conn, select(*columns).where(values.c.active == 1))
    width = len(columns)
    data = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width
    ).reshape(len(rows), width)
    ids = data[:, 0] if by_id else None
    first = 1 if by_id else 0
    return {dim: cuts_of(data[:, first + i], ids, rfm.ties) for i, dim in enumerate(DIMENSIONS)}


def values_table() -> Table:
    return temp_table(
        "rfm_values_now",
        Column("customer_id", Integer, primary_key=True),
        Column("active", Integer, nullable=False),
        Column("purchases_ever", Integer, nullable=False),
        Column("recency", BigInteger),
        Column("frequency", Integer, nullable=False),
        Column("monetary", BigInteger, nullable=False),
    )


def fill_values(conn: Connection, as_of: int, rfm: RfmSettings) -> Table:
    """Every customer's raw values as of ``as_of`` in a TEMP table (one scan of the events)."""
    table = values_table()
    recreate(conn, table)
    query = values_select(as_of, rfm)
    conn.execute(insert(table).from_select([c.name for c in query.selected_columns], query))
    return table


def score_from_cuts(
    value: Any, customer_id: Any, cuts: Sequence[tuple[int | None, int | None]]
) -> Any:
    """1 + the number of cuts the value (pair) reaches."""
    total: Any = integer(1)
    for cut, cut_id in cuts:
        if cut is None:
            continue  # nobody reached this score
        reached = (
            value >= integer(cut)
            if cut_id is None
            else or_(
                value > integer(cut), and_(value == integer(cut), customer_id >= integer(cut_id))
            )
        )
        total = total + case((reached, integer(1)), else_=integer(0))
    return total


def rfm_select(
    as_of: int, rfm: RfmSettings, cuts: Cuts, values_from: Any = None, *, whole_base: bool = False
) -> Select[Any]:
    """Scores and segment of every customer with purchase or refund events up to ``as_of``
    (their raw values from ``values_from`` when filled by :func:`fill_values`).
    ``whole_base``: no filter on the customers will follow, so each score is computed
    once per row (:func:`core.feature_sql.evaluated_once`, which such a filter could not
    pass)."""
    values: Any = (
        values_from if values_from is not None else values_select(as_of, rfm).subquery("rfm_values")
    )
    is_active = values.c.active == 1

    def score(dim: str) -> Any:
        return case((is_active, score_from_cuts(values.c[dim], values.c.customer_id, cuts[dim])))

    scores_query = select(
        values.c.customer_id,
        values.c.active,
        values.c.purchases_ever,
        score("recency").label("r"),
        score("frequency").label("f"),
        score("monetary").label("m"),
    )
    # Each score is read three times below (its column, the sum, the segment).
    scores = (evaluated_once(scores_query) if whole_base else scores_query).subquery("rfm_scores")
    one, two, ten = integer(1), integer(2), integer(10)
    fm = int_div(scores.c.f + scores.c.m + one, two)
    grid = {r * 10 + c + 1: name for r, row in SEGMENT_GRID.items() for c, name in enumerate(row)}
    segment = case(
        (scores.c.active == 1, case(grid, value=scores.c.r * ten + fm)),
        (scores.c.purchases_ever > 0, literal(LAPSED)),
        else_=literal(PROSPECT),
    )
    return select(
        scores.c.customer_id,
        scores.c.r.label("recency_score"),
        scores.c.f.label("frequency_score"),
        scores.c.m.label("monetary_score"),
        (scores.c.r + scores.c.f + scores.c.m).label("rfm_score"),
        segment.label("rfm_segment"),
    )


RFM_FEATURES: Sequence[Feature] = (
    Feature(
        "recency_score",
        N,
        "1–5: quintile of the latest purchase among the active base "
        "(5 = most recent); null outside it.",
        "1–5",
    ),
    Feature(
        "frequency_score",
        N,
        "1–5: quintile of the purchases in the RFM window "
        "(5 = most frequent); null outside the active base.",
        "1–5",
    ),
    Feature(
        "monetary_score",
        N,
        "1–5: quintile of the net spend in the RFM window "
        "(5 = biggest); null outside the active base.",
        "1–5",
    ),
    Feature(
        "rfm_score",
        N,
        "recency + frequency + monetary score; null outside the active base.",
        "3–15",
    ),
    Feature(
        "rfm_segment",
        S,
        "champions, loyal, potential_loyalists, new_customers, promising, "
        "need_attention, about_to_sleep, at_risk, cant_lose, hibernating, lost; lapsed (bought "
        "before the window only) or prospect (never bought).",
        default=PROSPECT,
    ),
)


class RfmValues:
    """Every customer's raw values, kept between cycles (not features: the scores are).

    Only new purchases and refunds and the window's edge change them, so a cycle
    recomputes just those customers (:func:`core.kept_sets.kept_rows`); the settings
    are the kept rows' variant.
    """

    name = "rfm_values"
    features: Sequence[Feature] = tuple(
        Feature(name, N, f"RFM raw value: {name}.")
        for name in ("active", "purchases_ever", *DIMENSIONS)
    )

    def __init__(self, rfm: RfmSettings) -> None:
        self.rfm = rfm
        self.keeping = Keeping(
            event_types=("purchase", "refund"), windows_days=(rfm.window_seconds / DAY,)
        )

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        return values_select(ctx.as_of, self.rfm).where(ctx.limit_to(ev.c.customer_id))


class RfmFeatures:
    """RFM scores over the active base (its ranking cached per instant and settings)."""

    name = "rfm"
    features: Sequence[Feature] = RFM_FEATURES

    def __init__(self) -> None:
        self._cuts: OrderedDict[tuple[int, str], Cuts] = OrderedDict()
        self._prepared: OrderedDict[int, tuple[RfmSettings, Cuts, Any]] = OrderedDict()

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        """Cuts of the instant from the process cache; when they are not cached yet (a new
        cycle instant), from the base's values. For the whole base those are the kept
        values (:class:`RfmValues`), which :meth:`select` reads too; for a few customers
        or a dry run they are aggregated once into a TEMP table."""
        rfm = settings_in_force(conn, ctx.as_of).rfm
        key = (ctx.as_of, rfm.model_dump_json())
        filled = None
        if may_keep(ctx):
            filled = kept_rows(conn, RfmValues(rfm), ctx, variant=key[1])
        if key not in self._cuts:
            if filled is None:
                filled = fill_values(conn, ctx.as_of, rfm)
            self._cuts[key] = cuts_of_active(conn, filled, rfm)
            while len(self._cuts) > CACHED_CUTS:
                self._cuts.popitem(last=False)
        self._prepared[ctx.as_of] = (rfm, self._cuts[key], filled)
        while len(self._prepared) > CACHED_CUTS:
            self._prepared.popitem(last=False)

    def select(self, ctx: FeatureContext) -> Select[Any]:
        rfm, cuts, filled = self._prepared[ctx.as_of]
        return rfm_select(ctx.as_of, rfm, cuts, filled, whole_base=ctx.customer_ids is None)


__all__ = [
    "DIMENSIONS",
    "RFM_FEATURES",
    "SEGMENTS",
    "SEGMENT_GRID",
    "Cuts",
    "RfmFeatures",
    "rfm_select",
    "segment_of",
]
