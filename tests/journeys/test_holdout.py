"""The holdout hash: close to the configured share, stable, the same in SQL and Python."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from core.journeys.holdout import holdout_bucket, holdout_bucket_sql
from core.store import Customer, Store
from core.store.tables import table_of

customers = table_of(Customer)


@pytest.mark.parametrize("percent", [5, 10, 50])
def test_the_share_is_close_to_the_configured_percentage(percent: int) -> None:
    for journey in ("vip-winback", "medium-risk-reminder"):
        held = sum(holdout_bucket(journey, cid) < percent for cid in range(1, 20_001))
        assert abs(held / 20_000 - percent / 100) < 0.01, (journey, held)


def test_journeys_hold_out_different_customers() -> None:
    ids = range(1, 10_001)
    first = {c for c in ids if holdout_bucket("a", c) < 10}
    second = {c for c in ids if holdout_bucket("b", c) < 10}
    assert len(first & second) < 300  # about 100 when independent, 1,000 if the same


def test_sql_and_python_agree_up_to_the_largest_ids(store: Store) -> None:
    ids = [*range(1, 400), 2**31 - 1, 2**31 - 2, 1_234_567_890]
    with store.begin() as conn:
        conn.execute(
            insert(customers),
            [{"id": i, "external_id": f"x{i}", "consent": {}, "attributes": {}} for i in ids],
        )
        rows = conn.execute(
            select(customers.c.id, holdout_bucket_sql("vip-winback", customers.c.id))
        ).all()
    assert {int(i): int(b) for i, b in rows} == {i: holdout_bucket("vip-winback", i) for i in ids}
