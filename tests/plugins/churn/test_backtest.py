"""Backtest on the full CDNOW history: does the high-risk band really buy again less?

Replays the history of all 23,570 customers (``../shared/data/cdnow/CDNOW_master.txt``;
skipped where that folder is absent): at each as-of instant the churn stage refits
BG/NBD on the transactions known then and every customer gets a band; then we look 13
weeks ahead. The instants are 8 weeks apart (``PATRON_BACKTEST_STEP_WEEKS=1`` replays
week by week, slower).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter

import pytest
from sqlalchemy import case, exists, func, select

from core.app import build_app
from core.config import Settings
from core.features import materialize
from core.importing import import_events
from core.plugins import make_plugin_manager
from core.rules import RuleSet
from core.store import Event, Store
from core.store.tables import table_of
from core.vocabulary import FeatureContext, StageContext
from plugins.churn.stage import run_churn_stage
from tests.plugins.churn.cdnow_data import MASTER

events = table_of(Event)
WEEK = 7 * 86400
HORIZON = 13 * WEEK


@pytest.mark.skipif(not MASTER.exists(), reason="../shared/data/cdnow/CDNOW_master.txt is absent")
def test_high_risk_customers_buy_again_far_less_often(
    sqlite_store: Store, settings: Settings
) -> None:
    app = build_app(settings=settings, pm=make_plugin_manager(block=("care", "tiering")))
    report = import_events(
        sqlite_store, MASTER, settings, app.registry.event_types.names(), "cdnow"
    )
    assert report.inserted == 69_659
    step = int(os.environ.get("PATRON_BACKTEST_STEP_WEEKS", "8"))
    start = dt.datetime(1997, 4, 1, tzinfo=settings.zone)  # 13 weeks into the cohort's history
    end = dt.datetime(1998, 3, 31, tzinfo=settings.zone)  # 13 weeks before the data ends
    buyers: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    instant = start
    while instant <= end:
        as_of = int(instant.timestamp())
        with sqlite_store.engine.connect() as conn, conn.begin():
            ctx = FeatureContext(as_of=as_of, settings=settings, store=sqlite_store)
            run_churn_stage(StageContext(conn, ctx, None, RuleSet(), None, dry_run=False))
            features = materialize(conn, app.registry, ctx)
            again = exists().where(
                events.c.customer_id == features.c.customer_id,
                events.c.type == "purchase",
                events.c.occurred_at > as_of,
                events.c.occurred_at <= as_of + HORIZON,
            )
            rows = conn.execute(
                select(
                    features.c.churn_band,
                    func.count(),
                    func.sum(case((again, 1), else_=0)),
                )
                .where(features.c.purchase_count > 0)
                .group_by(features.c.churn_band)
            ).all()
        for band, count, came_back in rows:
            buyers[band] += int(count)
            returned[band] += int(came_back)
        instant += dt.timedelta(weeks=step)
    rates = {band: returned[band] / buyers[band] for band in buyers}
    print("\nCDNOW backtest: share buying again within 13 weeks, by churn band")
    for band in ("high", "medium", "low"):
        print(
            f"  {band:<6} {buyers[band]:>7} observations (customer × as-of)  {rates.get(band, 0):6.1%}"
        )
    assert set(rates) == {"high", "medium", "low"}
    assert rates["high"] < rates["medium"] < rates["low"]
    assert rates["high"] < rates["low"] / 2.5
