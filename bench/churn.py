"""Benchmark of churn scoring: P(alive) for 1,000,000 customers.

    python bench/churn.py [--customers N] [--database-url URL] [--skip-store]

1. **numpy**: BG/NBD ``p_alive`` and ``expected_purchases_90d`` for N customers, one
   vectorised call each (no deduplication), and a fit on their statistics.
2. **store** (SQLite in a temporary folder unless ``--database-url`` names another store):
   N customers with BG/NBD-like purchase histories, then the churn model's per-cycle
   path — the SQL GROUP BY of every buyer's (x, t_x, T), the distinct triples scored with
   numpy, the scores joined back to the customers — and the periodic fit.

Figures, not assertions: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from core.config import Settings  # noqa: E402
from core.store import Customer, Event, Store, open_store  # noqa: E402
from core.store.tables import table_of  # noqa: E402
from core.vocabulary import FeatureContext  # noqa: E402
from plugins.churn import bgnbd  # noqa: E402
from plugins.churn.model import ChurnModelFeatures, bulk_insert, fill_scores  # noqa: E402
from plugins.churn.settings import ChurnSettings  # noqa: E402
from plugins.churn.stage import fit_model  # noqa: E402

DAY = 86400
AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CDNOW = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return result, seconds


def simulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in weeks of n customers drawn from BG/NBD with the CDNOW parameters.

    Each customer buys at a Poisson rate λ ~ Gamma(r, α) and drops out after each repeat
    purchase with probability p ~ Beta(a, b); observed for T weeks after the first.
    """
    T = rng.uniform(1, 104, n)
    rate = rng.gamma(CDNOW.r, 1 / CDNOW.alpha, n)
    drop = rng.beta(CDNOW.a, CDNOW.b, n)
    x, t_x, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        following = clock + rng.exponential(1.0, n) / np.maximum(rate, 1e-12)
        active &= following <= T
        x += active
        t_x = np.where(active, following, t_x)
        clock = np.where(active, following, clock)
        active &= rng.random(n) >= drop
    return x, t_x, T


def bench_numpy(n: int) -> None:
    print(f"numpy, {n:,} customers")
    x, t_x, T = simulate(n, np.random.default_rng(7))
    _, alive = timed("p_alive", lambda: bgnbd.p_alive(CDNOW, x, t_x, T))
    _, expected = timed(
        "expected_purchases_90d", lambda: bgnbd.expected_purchases(CDNOW, 90 / 7, x, t_x, T)
    )
    print(f"  = {n / (alive + expected):,.0f} customers scored per second (both values)")
    triples, counts = np.unique(
        np.stack([x, np.round(t_x * 7), np.round(T * 7)], axis=1), axis=0, return_counts=True
    )
    fit, _ = timed(
        f"fit on {len(triples):,} distinct (x, t_x, T) in days",
        lambda: bgnbd.fit(triples[:, 0], triples[:, 1] / 7, triples[:, 2] / 7, counts),
    )
    print(
        f"  recovered r={fit.params.r:.3f} alpha={fit.params.alpha:.3f} a={fit.params.a:.3f} b={fit.params.b:.3f}"
    )


def fill_store(store: Store, n: int) -> int:
    """n customers, their purchases on the days BG/NBD draws; returns the number of events.

    A customer's purchase days are the first (day 0), the last repeat (t_x) and the other
    repeats drawn between them, so x and t_x hold up to days that happen to coincide.
    """
    rng = np.random.default_rng(11)
    x, t_x, T = simulate(n, rng)
    now = int(AS_OF.timestamp())
    first = now - np.round(T * 7).astype(np.int64) * DAY
    last = np.round(t_x * 7).astype(np.int64)
    owner = np.repeat(np.arange(n), x.astype(np.int64) + 1)
    start = np.cumsum(np.concatenate(([0], x[:-1] + 1))).astype(np.int64)
    position = np.arange(len(owner)) - start[owner]  # 0 = first purchase, x = last repeat
    between = np.floor(rng.random(len(owner)) * np.maximum(last[owner], 1)).astype(np.int64)
    day = np.where(position == 0, 0, np.where(position == x[owner], last[owner], between))
    at = first[owner] + day * DAY + 3600
    customers, events = table_of(Customer), table_of(Event)
    with store.begin() as conn:
        bulk_insert(
            conn,
            customers,
            [(i, f"c{i}", "{}", "{}") for i in range(1, n + 1)],
            ["id", "external_id", "consent", "attributes"],
        )
        rows = [
            (c + 1, "purchase", t, 2000, f"b{k}")
            for k, (c, t) in enumerate(zip(owner.tolist(), at.tolist(), strict=True))
        ]
        bulk_insert(
            conn, events, rows, ["customer_id", "type", "occurred_at", "amount", "source_key"]
        )
    return len(rows)


def bench_store(n: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        settings = Settings(
            database_url=url or f"sqlite:///{base / 'churn.db'}",
            base_dir=base,
            rule_paths=[base / "rules"],
            template_paths=[base / "templates"],
            outbox_dir=base / "outbox",
            timezone="UTC",
        )
        store = open_store(settings.resolved_database_url)
        print(f"store ({store.dialect}), {n:,} customers")
        count, _ = timed("generate and insert", lambda: fill_store(store, n))
        print(f"  {count:,} purchase events")
        ctx = FeatureContext(as_of=int(AS_OF.timestamp()), settings=settings, store=store)
        with store.engine.connect() as conn, conn.begin():
            staged = ctx  # the whole base, as in a cycle
            _, fit_seconds = timed(
                "fit (SQL statistics + maximum likelihood)",
                lambda: fit_model(conn, ctx, ChurnSettings(min_repeat_customers=1), None),
            )
            _, prepare = timed(
                "score every customer (SQL statistics, numpy on distinct triples, TEMP scores)",
                lambda: fill_scores(conn, staged),
            )
            model = ChurnModelFeatures()
            rows, join = timed(
                "join the scores back to every customer",
                lambda: conn.execute(
                    select(func.count()).select_from(model.select(staged).subquery())
                ).scalar_one(),
            )
            print(f"  = p_alive for {rows:,} customers in {prepare + join:.2f} s per cycle")
            print(f"    (the weekly fit adds {fit_seconds:.2f} s)")
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--skip-store", action="store_true")
    args = parser.parse_args()
    bench_numpy(args.customers)
    if not args.skip_store:
        bench_store(args.customers, args.database_url)


if __name__ == "__main__":
    main()
