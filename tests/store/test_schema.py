"""The store creates and upgrades its own schema, and refuses a newer one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect

from core.errors import StoreError
from core.store import Store, open_store
from core.store.engine import (
    SCHEMA_VERSION,
    SQLITE_PAGE_SIZE,
    ensure_schema,
    meta,
    schema_version,
)


def test_schema_is_created_with_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"customers", "events", "ledger", "cycles", "rule_runs", "patron_meta"} <= tables
    with store.begin() as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_opening_twice_changes_nothing(store: Store) -> None:
    assert ensure_schema(store) == SCHEMA_VERSION
    assert ensure_schema(store) == SCHEMA_VERSION


def test_a_newer_store_is_refused(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(meta.update().values(value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(
        StoreError,
        match=f"the store is at schema version {SCHEMA_VERSION + 1}, newer than this patron",
    ):
        ensure_schema(store)


def test_password_is_masked_in_errors() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://patron:s3cret@127.0.0.1:1/nowhere")
    assert "s3cret" not in str(caught.value)
    assert str(caught.value).startswith(
        "postgresql+psycopg://patron:***@127.0.0.1:1/nowhere: cannot open the store:"
    )


def test_unknown_driver(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="oracle://x: not a usable database URL"):
        open_store("oracle://x")


def _ledger_indexes(store: Store) -> set[str]:
    return {ix["name"] for ix in inspect(store.engine).get_indexes("ledger") if ix["name"]}


def test_a_version_1_store_is_upgraded_in_place(store: Store) -> None:
    # Version 1 found a cycle's firings through an index on cycle_id alone.
    with store.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_ledger_cycle_id ON ledger (cycle_id)")
        conn.execute(meta.update().values(value="1"))
    assert "ix_ledger_cycle_id" in _ledger_indexes(store)
    assert ensure_schema(store) == SCHEMA_VERSION == 5
    # Version 2 keyed it by rule and action too; version 4 dropped it for a range of ids.
    assert {ix for ix in _ledger_indexes(store) if ix.startswith("ix_")} == {
        "ix_ledger_status_due",
        "ix_ledger_rule_customer",
    }
    with store.begin() as conn:
        assert schema_version(conn) == 5


def test_a_version_3_store_loses_the_index_of_a_cycles_firings(store: Store) -> None:
    with store.begin() as conn:
        conn.exec_driver_sql(
            "CREATE INDEX ix_ledger_cycle_rule ON ledger (cycle_id, rule_id, action_index)"
        )
        conn.execute(meta.update().values(value="3"))
    assert "ix_ledger_cycle_rule" in _ledger_indexes(store)
    assert ensure_schema(store) == SCHEMA_VERSION == 5
    assert "ix_ledger_cycle_rule" not in _ledger_indexes(store)


def _event_indexes(store: Store) -> dict[str, list[str]]:
    return {
        ix["name"]: [str(c) for c in ix["column_names"]]
        for ix in inspect(store.engine).get_indexes("events")
        if ix["name"] and ix["name"].startswith("ix_")
    }


def test_a_version_2_store_gets_the_covering_event_indexes(store: Store) -> None:
    # Version 2 indexed the events' instants alone, and per customer without values.
    with store.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_time_type")
        conn.exec_driver_sql("DROP INDEX ix_events_per_customer")
        conn.exec_driver_sql("CREATE INDEX ix_events_time ON events (occurred_at)")
        conn.exec_driver_sql(
            "CREATE INDEX ix_events_customer_type_time ON events (customer_id, type, occurred_at)"
        )
        conn.execute(meta.update().values(value="2"))
    assert {"ix_events_time", "ix_events_customer_type_time"} <= set(_event_indexes(store))
    assert ensure_schema(store) == SCHEMA_VERSION == 5
    assert _event_indexes(store) == {
        "ix_events_per_customer": ["customer_id", "type", "occurred_at", "amount", "value"],
        "ix_events_time_type": ["occurred_at", "type", "customer_id", "amount"],
    }
    with store.begin() as conn:
        assert schema_version(conn) == 5


def test_a_version_4_store_gets_shared_action_arguments(store: Store) -> None:
    with store.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE ledger DROP COLUMN args_id")
        conn.execute(meta.update().values(value="4"))
    assert "args_id" not in {c["name"] for c in inspect(store.engine).get_columns("ledger")}
    assert ensure_schema(store) == SCHEMA_VERSION == 5
    assert "args_id" in {c["name"] for c in inspect(store.engine).get_columns("ledger")}
    assert "action_args" in inspect(store.engine).get_table_names()


def test_a_new_sqlite_store_has_16_kib_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    fresh = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    with fresh.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == SQLITE_PAGE_SIZE == 16384
    fresh.dispose()
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as made:
        made.execute("PRAGMA page_size=4096")
        made.execute("CREATE TABLE before_patron (x)")
    reopened = open_store(f"sqlite:///{old}")
    with reopened.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == 4096
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    reopened.dispose()
