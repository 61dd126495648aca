"""P(alive) in SQL is the numpy form of the paper's eq. 11, on both stores."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest
from sqlalchemy import insert, select

from core.store import Store
from core.store.engine import _exp, _ln
from core.temp_tables import recreate
from plugins.churn import bgnbd
from plugins.churn.model import p_alive_sql
from plugins.churn.stats import WEEK_DAYS, stats_table
from tests.plugins.churn.test_bgnbd import PAPER_PARAMS

# (x, t_x days, T days): one-time buyers, usual buyers, a heavy buyer silent for years
# (its odds of being dead overflow exp()), a buyer seen today.
TRIPLES = [(0, 0, 0), (0, 0, 400), (1, 10, 20), (2, 35, 180), (7, 200, 210), (40, 300, 2000)]
TRIPLES += [(400, 100, 9000), (3, 50, 50)]


@pytest.mark.parametrize("params", [PAPER_PARAMS, bgnbd.BgNbdParams(1.0, 1.0, 1.0, 1.0)])
def test_p_alive_sql_matches_numpy(store: Store, params: bgnbd.BgNbdParams) -> None:
    stats = stats_table()
    with store.begin() as conn:
        recreate(conn, stats)
        conn.execute(
            insert(stats),
            [
                {"customer_id": i, "frequency": x, "recency_days": t_x, "age_days": T}
                for i, (x, t_x, T) in enumerate(TRIPLES)
            ],
        )
        found = dict(conn.execute(select(stats.c.customer_id, p_alive_sql(params, stats))).all())
    x, t_x, T = (np.array(column, dtype=float) for column in zip(*TRIPLES, strict=True))
    expected = bgnbd.p_alive(params, x, t_x / WEEK_DAYS, T / WEEK_DAYS)
    for i, want in enumerate(expected.tolist()):
        assert found[i] == pytest.approx(want, rel=1e-12, abs=1e-300), TRIPLES[i]
    assert found[0] == found[1] == 1.0  # no repeat purchase: alive
    assert found[6] == 0.0  # the capped odds


def test_math_functions_for_an_sqlite_without_them() -> None:
    conn = sqlite3.connect(":memory:")
    conn.create_function("ln", 1, _ln, deterministic=True)
    conn.create_function("exp", 1, _exp, deterministic=True)
    row = conn.execute("SELECT ln(2.0), exp(1.0), ln(0), ln(NULL), exp(NULL), exp(1000)").fetchone()
    assert row[:2] == (math.log(2.0), math.e)
    assert row[2:5] == (None, None, None)
    assert row[5] == math.inf
