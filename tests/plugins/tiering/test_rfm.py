"""RFM quintiles: a hand-computed example and the CDNOW sample, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from core.app import App
from core.config import Settings
from core.features import materialize
from core.importing.events import import_events
from core.store import Customer, Store
from core.store.tables import table_of
from core.vocabulary import FeatureContext
from plugins.tiering.rfm import SEGMENT_GRID, SEGMENTS, cuts_of, segment_of
from tests.cycle.conftest import add_customer, add_event, at, write_rules

CDNOW = Path(__file__).parents[2] / "data" / "cdnow" / "CDNOW_sample.txt"
Features = Callable[..., dict[int, dict[str, Any]]]
AS_OF = "2026-11-23T00:00:00"
SCORES = ("recency_score", "frequency_score", "monetary_score", "rfm_score", "rfm_segment")


def days_before(days: int) -> str:
    return (dt.datetime(2026, 11, 23) - dt.timedelta(days=days)).isoformat()


def ties(settings: Settings, mode: str) -> None:
    write_rules(settings, f"tiers:\n  rfm: {{window: 365d, ties: {mode}}}\nrules: []\n")


@pytest.fixture
def example(store: Store) -> dict[str, int]:
    """Six active customers, one lapsed, one who never bought (ids in name order)."""
    history = {
        "a": [(10, 100), (200, 100)],
        "b": [(5, 500)],
        "c": [(50, 50), (60, 50), (70, 50)],
        "d": [(300, 1000)],
        "e": [(5, 200), (100, 100)],
        "f": [(100, 100)],
        "lapsed": [(400, 900)],
        "prospect": [],
    }
    ids = {name: add_customer(store, name) for name in history}
    for name, purchases in history.items():
        for days, amount in purchases:
            add_event(store, ids[name], "purchase", days_before(days), amount=amount)
    add_event(store, ids["f"], "refund", days_before(90), amount=50)  # f's net spend: 50
    return ids


# Worked by hand from the module's formula; (R, F, M, rfm_score, segment).
#   recency  ascending: d, f, c, a, {b, e}  → 1, 1, 2, 3, 4 (b, e: middle of positions 4–5)
#   frequency ascending: {b, d, f}=1, {a, e}=2, c=3  → 1, 3, 5
#   monetary ascending: f 50, c 150, a 200, e 300, b 500, d 1000 → 1, 1, 2, 3, 4, 5
AVERAGE = {
    "a": (3, 3, 2, 8, "need_attention"),
    "b": (4, 1, 4, 9, "potential_loyalists"),
    "c": (2, 5, 1, 8, "at_risk"),
    "d": (1, 1, 5, 7, "at_risk"),
    "e": (4, 3, 3, 10, "potential_loyalists"),
    "f": (1, 1, 1, 3, "lost"),
    "lapsed": (None, None, None, None, "lapsed"),
    "prospect": (None, None, None, None, "prospect"),
}
# ties: customer_id splits equal values by id (b < e, b < d < f, a < e):
#   recency b 4, e 5; frequency b 1, d 1, f 2, a 3, e 4, c 5
BY_CUSTOMER = {
    **AVERAGE,
    "a": (3, 3, 2, 8, "need_attention"),
    "b": (4, 1, 4, 9, "potential_loyalists"),
    "d": (1, 1, 5, 7, "at_risk"),
    "e": (5, 4, 3, 12, "champions"),
    "f": (1, 2, 1, 4, "lost"),
}


@pytest.mark.parametrize(("mode", "expected"), [("average", AVERAGE), ("customer_id", BY_CUSTOMER)])
def test_hand_computed_example(
    store: Store,
    settings: Settings,
    example: dict[str, int],
    cycle: Callable[..., Any],
    features: Features,
    mode: str,
    expected: dict[str, tuple[Any, ...]],
) -> None:
    ties(settings, mode)
    cycle(AS_OF)  # records the non-default settings
    found = features(AS_OF, list(example.values()))
    assert {name: tuple(found[cid][k] for k in SCORES) for name, cid in example.items()} == expected


@pytest.mark.parametrize(("mode", "expected"), [("average", AVERAGE), ("customer_id", BY_CUSTOMER)])
def test_the_whole_base_scores_match_the_hand_computed_example(
    store: Store,
    settings: Settings,
    app: App,
    example: dict[str, int],
    cycle: Callable[..., Any],
    mode: str,
    expected: dict[str, tuple[Any, ...]],
) -> None:
    # The cycle's path: every customer at once, each score computed once per row.
    ties(settings, mode)
    cycle(AS_OF)
    ctx = FeatureContext(as_of=at(AS_OF), settings=settings, store=store, wanted=frozenset(SCORES))
    with store.begin() as conn:
        table = materialize(conn, app.registry, ctx)
        columns = [table.c.customer_id, *(table.c[name] for name in SCORES)]
        found = {row[0]: tuple(row[1:]) for row in conn.execute(select(*columns))}
    assert {name: found[cid] for name, cid in example.items()} == {
        name: tuple(v if isinstance(v, str) or v is None else float(v) for v in scores)
        for name, scores in expected.items()
    }


def test_segment_grid_is_the_sql_mapping() -> None:
    assert segment_of(5, 5, 5) == "champions" and segment_of(1, 1, 1) == "lost"
    assert segment_of(2, 5, 5) == "cant_lose" and segment_of(5, 1, 1) == "new_customers"
    assert len(SEGMENTS) == 13 and all(len(row) == 5 for row in SEGMENT_GRID.values())


def reference_scores(values: dict[str, float], mode: str, order: dict[str, int]) -> dict[str, int]:
    """The documented quintile method, in plain Python, for comparison with the SQL."""
    n = len(values)
    if mode == "customer_id":
        ordered = sorted(values, key=lambda k: (values[k], order[k]))
        return {k: 1 + 5 * i // n for i, k in enumerate(ordered)}
    first: dict[float, int] = {}
    for i, v in enumerate(sorted(values.values())):
        first.setdefault(v, i)
    count: dict[float, int] = defaultdict(int)
    for v in values.values():
        count[v] += 1
    return {k: 1 + 5 * (2 * first[v] + count[v] - 1) // (2 * n) for k, v in values.items()}


def cdnow_reference(
    as_of: int, window: int, zone: ZoneInfo, mode: str, order: dict[str, int]
) -> dict[str, tuple[int, int, int]]:
    """R, F and M of every CDNOW customer active in the window, read from the file itself."""
    last: dict[str, int] = {}
    frequency: dict[str, int] = defaultdict(int)
    monetary: dict[str, int] = defaultdict(int)
    for line in CDNOW.read_text().splitlines():
        master, _sample, date, _cds, dollars = line.split()
        day = dt.datetime.strptime(date, "%Y%m%d").replace(tzinfo=zone)
        instant = int(day.timestamp())
        if as_of - window < instant <= as_of:
            cents = int((Decimal(dollars) * 100).quantize(Decimal(1), ROUND_HALF_UP))
            last[master] = max(last.get(master, 0), instant)
            frequency[master] += 1
            monetary[master] += cents
    r = reference_scores({k: float(v) for k, v in last.items()}, mode, order)
    f = reference_scores({k: float(frequency[k]) for k in last}, mode, order)
    m = reference_scores({k: float(monetary[k]) for k in last}, mode, order)
    return {k: (r[k], f[k], m[k]) for k in last}


def test_cdnow_sample_matches_the_documented_method(
    store: Store, settings: Settings, app: App, cycle: Callable[..., Any], features: Features
) -> None:
    """2,357 customers, 6,919 purchases: every score equals the reference computation."""
    report = import_events(store, CDNOW, settings, app.registry.event_types.names(), fmt="cdnow")
    assert (report.inserted, report.rejected_count) == (6919, 0)
    customers = table_of(Customer)
    with store.begin() as conn:
        ids = dict(conn.execute(select(customers.c.external_id, customers.c.id)).all())
    assert len(ids) == 2357
    as_of = "1998-01-01T00:00:00+08:00"  # the middle of the observation period
    instant = int(dt.datetime.fromisoformat(as_of).timestamp())
    for mode in ("average", "customer_id"):
        ties(settings, mode)
        cycle(as_of)  # records the settings in force from this instant
        found = features(as_of, list(ids.values()))
        expected = cdnow_reference(instant, 365 * 86400, settings.zone, mode, ids)
        got = {
            ext: (
                found[cid]["recency_score"],
                found[cid]["frequency_score"],
                found[cid]["monetary_score"],
            )
            for ext, cid in ids.items()
            if found[cid]["recency_score"] is not None
        }
        assert got == expected, mode
        histogram: dict[int, int] = defaultdict(int)
        for r, _f, _m in got.values():
            histogram[r] += 1
        if mode == "customer_id":  # NTILE-like: the quintiles are as even as n allows
            assert max(histogram.values()) - min(histogram.values()) <= 1
        lapsed = sum(1 for cid in ids.values() if found[cid]["rfm_segment"] == "lapsed")
        assert lapsed + len(got) == 2357


@given(
    values=st.lists(st.integers(min_value=-3, max_value=6), max_size=40),
    mode=st.sampled_from(["average", "customer_id"]),
)
def test_cuts_give_every_customer_the_documented_score(values: list[int], mode: str) -> None:
    """Scoring by the cuts (what the SQL does per customer) equals ranking the whole base."""
    ids = list(range(100, 100 + len(values)))
    cuts = cuts_of(np.array(values, dtype=np.int64), np.array(ids, dtype=np.int64), mode)
    names = [str(i) for i in ids]
    expected = reference_scores(
        {n: float(v) for n, v in zip(names, values, strict=True)},
        mode,
        {n: i for n, i in zip(names, ids, strict=True)},
    )
    for name, value, customer_id in zip(names, values, ids, strict=True):
        reached = sum(
            1
            for cut, cut_id in cuts
            if cut is not None
            and (value >= cut if cut_id is None else (value, customer_id) >= (cut, cut_id))
        )
        assert 1 + reached == expected[name], (value, cuts)
