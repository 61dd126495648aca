"""On SQLite the feature table's join reads customers in id order, whatever order their
external ids are in (``joined_onto_customers(..., in_id_order=True)``): driven from the
external-id index instead, every probe of a set's table lands on a random page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Float, Integer, MetaData, Table, insert, select, true

from core.feature_sql import joined_onto_customers
from core.store import Store
from core.store.tables import Customer, table_of
from core.vocabulary import Feature, FeatureType
from tests.query_plan import sqlite_plan

X = Feature("x", FeatureType.NUMBER, "a value", default=0)


def _plan(conn: Connection, query: Any) -> str:
    return " | ".join(sqlite_plan(conn, query))


def test_customers_are_read_in_id_order(sqlite_store: Store) -> None:
    part = Table(
        "part",
        MetaData(),
        Column("customer_id", Integer, primary_key=True),
        Column("x", Float),
    )
    one_row = Table("one_row", MetaData(), Column("k", Integer, primary_key=True))
    with sqlite_store.begin() as conn:
        # external ids that run against the ids, as UUIDs or a CRM's numbers may
        conn.execute(
            insert(table_of(Customer)),
            [
                {"external_id": f"C{999 - n:04d}", "consent": {}, "attributes": {}}
                for n in range(300)
            ],
        )
        part.create(conn)
        one_row.create(conn)
        conn.execute(insert(part), [{"customer_id": n, "x": n * 1.5} for n in range(1, 300, 2)])
        conn.execute(insert(one_row).values(k=1))

        unordered = joined_onto_customers([(part, [X])])
        ordered = joined_onto_customers([(part, [X])], in_id_order=True)
        # what the option guards against: the ids read from the external-id index
        assert "COVERING INDEX ix_customers_external_id" in _plan(conn, unordered)
        assert "SEARCH customers USING INTEGER PRIMARY KEY" in _plan(conn, ordered)
        rows = conn.execute(ordered).all()
        assert [r.customer_id for r in rows] == list(range(1, 301))
        assert sorted(rows) == sorted(conn.execute(unordered).all())

        # flattened into a later stage's query beside another table, the order stays
        sub = ordered.subquery("features_so_far")
        later = select(sub.c.customer_id, sub.c.x + one_row.c.k).select_from(
            sub.join(one_row, true())
        )
        assert "SEARCH customers USING INTEGER PRIMARY KEY" in _plan(conn, later)
        assert [r[0] for r in conn.execute(later)] == list(range(1, 301))
