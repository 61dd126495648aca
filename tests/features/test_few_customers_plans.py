"""A few customers' features read only those customers' rows (SQLite query plans).

``explain``, previews and delivery compute the features of a few customers with the
same SQL as the cycle, restricted to them. A set that ranks or sums per customer in a
nested subquery must choose its customers inside, where the caller's filter cannot
reach: the points features of 100 customers read every points row and the whole events
index (3 s at 1M customers, for every delivery batch rendering a points template).
"""

from __future__ import annotations

import random
import re

from sqlalchemy import select

from core.config import Settings
from core.feature_sql import set_subquery
from core.store import Store
from core.vocabulary import FeatureContext
from tests.features.test_kept_sets import DAY, START, _add, _app, _customers, _events
from tests.query_plan import sqlite_plan

STORED = ("events", "customers", "ledger", "loyalty_points", "loyalty_coupons", "care_tickets")
FULL_SCAN = re.compile(rf"^SCAN ({'|'.join(STORED)})\b")


def test_no_set_scans_a_stored_table_for_a_few_customers(
    sqlite_store: Store, settings: Settings
) -> None:
    store = sqlite_store
    ids = _customers(store, 40)
    as_of = START + 100 * DAY
    _add(store, _events(random.Random(7), ids, 400, START, as_of))
    registry = _app(store, settings).registry
    few = ids[:5]
    ctx = FeatureContext(as_of, settings, store, customer_ids=few, read_only=True)
    scanned = {}
    with store.engine.connect() as conn:
        for fset in registry.feature_sets.items.values():
            if getattr(fset, "needs", None):
                continue  # a later stage reads the feature table, already restricted
            fset.prepare(conn, ctx)
            plan = sqlite_plan(conn, select(set_subquery(fset, ctx, few)))
            full = [step for step in plan if FULL_SCAN.match(step)]
            if full:
                scanned[fset.name] = full
    assert scanned == {}
