"""``driver_rows`` returns what ``Connection.execute`` returns, as plain tuples, inside
the caller's transaction, with bound parameters and expanded IN lists."""

from __future__ import annotations

from sqlalchemy import func, insert, literal, select

from core.store import Store
from core.store.rows import driver_rows
from core.store.tables import Customer, table_of


def test_driver_rows_are_the_results_rows_as_tuples(store: Store) -> None:
    customers = table_of(Customer)
    with store.begin() as conn:
        conn.execute(
            insert(customers),
            [{"external_id": f"C{n}", "consent": {}, "attributes": {}} for n in range(6)],
        )  # not committed: the driver's cursor must see the caller's transaction
        query = (
            select(
                customers.c.external_id,
                (customers.c.id * literal(10)).label("tenfold"),
                func.length(customers.c.external_id) + literal(0.5),
            )
            .where(customers.c.external_id.in_(["C1", "C3", "C4", "nobody"]))
            .order_by(customers.c.external_id)
        )
        rows = driver_rows(conn, query)
        assert rows == [tuple(row) for row in conn.execute(query)]
        assert [row[0] for row in rows] == ["C1", "C3", "C4"]
        assert all(type(row) is tuple for row in rows)
        conn.rollback()
