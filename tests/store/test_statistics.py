"""On PostgreSQL the planner's statistics are kept current where autovacuum cannot see:
a TEMP table as soon as rows are inserted into it, a stored table in a cycle's
transaction when an insert is a large part of it, and after a bulk import. Inserts still
report their own rowcount."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, insert, select, text

from core.config import Settings
from core.importing import import_events
from core.store import Store
from core.store.statistics import ANALYZE_ROWS, IN_CYCLE
from core.store.tables import Customer, table_of
from core.temp_tables import recreate, temp_table
from plugins.churn.model import bulk_insert

customers = table_of(Customer)


def counted(conn: Connection, name: str) -> float:
    """What the statistics say the table holds (negative: never analyzed)."""
    return float(
        conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}
        ).scalar_one()
    )


def add_customers(conn: Connection, count: int, prefix: str = "S") -> int:
    rows = [{"external_id": f"{prefix}{n}", "consent": {}, "attributes": {}} for n in range(count)]
    return conn.execute(insert(customers), rows).rowcount


@pytest.fixture
def postgres(store: Store) -> Store:
    if not store.is_postgres:
        pytest.skip("PostgreSQL's planner statistics")
    return store


def test_rows_inserted_into_a_temp_table_are_analyzed(postgres: Store) -> None:
    target = temp_table("stats_probe", Column("customer_id", Integer, primary_key=True))
    with postgres.begin() as conn:
        add_customers(conn, 250)
        recreate(conn, target)
        assert counted(conn, "stats_probe") < 0  # PostgreSQL's "never analyzed"
        result = conn.execute(
            insert(target).from_select(["customer_id"], select(customers.c.id)),
            execution_options={"preserve_rowcount": True},
        )
        assert result.rowcount == 250
        assert counted(conn, "stats_probe") == 250


def test_a_stored_table_is_analyzed_in_a_cycle_when_an_insert_is_much_of_it(
    postgres: Store,
) -> None:
    with postgres.begin() as conn:
        before = counted(conn, "customers")
        add_customers(conn, ANALYZE_ROWS, prefix="outside")  # not in a cycle
        assert counted(conn, "customers") == before
        conn.info[IN_CYCLE] = True
        try:
            add_customers(conn, ANALYZE_ROWS - 1, prefix="few")  # too few to matter
            assert counted(conn, "customers") == before
            add_customers(conn, ANALYZE_ROWS, prefix="many")
        finally:
            conn.info.pop(IN_CYCLE)
        assert counted(conn, "customers") == 3 * ANALYZE_ROWS - 1


def test_an_import_leaves_the_events_analyzed(
    postgres: Store, settings: Settings, tmp_path: Path
) -> None:
    with postgres.begin() as conn:
        add_customers(conn, 3, prefix="C")
    lines = ["customer_id,type,occurred_at,amount"] + [
        f"C{n % 3},purchase,2026-03-01T10:{n // 60 % 60:02d}:{n % 60:02d},{n + 1}"
        for n in range(1500)
    ]
    source = tmp_path / "events.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_events(postgres, source, settings, ["purchase"])
    assert report.inserted == 1500
    with postgres.begin() as conn:
        assert counted(conn, "events") == 1500


def test_rows_copied_into_a_temp_table_are_analyzed(postgres: Store) -> None:
    # COPY goes by the driver's cursor, past the engine's listener.
    target = temp_table("stats_copied", Column("customer_id", Integer, primary_key=True))
    with postgres.begin() as conn:
        recreate(conn, target)
        bulk_insert(conn, target, [(n,) for n in range(1, 301)])
        assert counted(conn, "stats_copied") == 300


def test_a_temp_table_rewritten_in_large_part_is_analyzed_again(postgres: Store) -> None:
    # A later stage fills a column of the feature table that the insert left NULL:
    # planned on the insert's statistics, every filter on it would expect no rows.
    target = temp_table(
        "stats_rewritten",
        Column("customer_id", Integer, primary_key=True),
        Column("score", Integer),
    )
    with postgres.begin() as conn:
        recreate(conn, target)
        conn.execute(insert(target), [{"customer_id": n} for n in range(1, ANALYZE_ROWS + 1)])
        assert null_share(conn, "stats_rewritten", "score") == 1.0
        conn.execute(target.update().where(target.c.customer_id <= 10).values(score=1))
        assert null_share(conn, "stats_rewritten", "score") == 1.0  # a few rows: left
        conn.execute(target.update().values(score=2))
        assert null_share(conn, "stats_rewritten", "score") == 0.0


def null_share(conn: Connection, table: str, column: str) -> float:
    return float(
        conn.execute(
            text("SELECT null_frac FROM pg_stats WHERE tablename = :t AND attname = :c"),
            {"t": table, "c": column},
        ).scalar_one()
    )
