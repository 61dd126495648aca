"""On PostgreSQL a TEMP table has statistics as soon as rows are inserted into it
(autovacuum never analyzes TEMP tables, and joins planned on guesses ran in nested
loops), and the insert still reports its own rowcount."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, insert, select, text

from core.store import Store
from core.store.tables import Customer, table_of
from core.temp_tables import recreate, temp_table


def test_rows_inserted_into_a_temp_table_are_analyzed(store: Store) -> None:
    if not store.is_postgres:
        pytest.skip("PostgreSQL's planner statistics")
    customers = table_of(Customer)
    target = temp_table("stats_probe", Column("customer_id", Integer, primary_key=True))
    with store.begin() as conn:
        conn.execute(
            insert(customers),
            [{"external_id": f"S{n}", "consent": {}, "attributes": {}} for n in range(250)],
        )
        recreate(conn, target)
        never = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'stats_probe'")
        ).scalar_one()
        assert never < 0  # PostgreSQL's "never analyzed"
        result = conn.execute(
            insert(target).from_select(["customer_id"], select(customers.c.id)),
            execution_options={"preserve_rowcount": True},
        )
        assert result.rowcount == 250
        counted = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'stats_probe'")
        ).scalar_one()
        assert counted == 250
