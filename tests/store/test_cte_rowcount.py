"""An INSERT whose SELECT has a common table expression reports how many rows it wrote
(on SQLite the store renders it INSERT ... WITH: the driver gives no rowcount for a
statement that begins with WITH)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from core.store import Store
from core.store.tables import Customer, table_of


def test_an_insert_with_a_common_table_expression_reports_its_rowcount(store: Store) -> None:
    customers = table_of(Customer)
    target = Table("cte_target", MetaData(), Column("customer_id", Integer, primary_key=True))
    with store.begin() as conn:
        conn.execute(
            insert(customers),
            [{"external_id": f"C{n}", "consent": {}, "attributes": {}} for n in range(7)],
        )
        target.create(conn)
        ids = select(customers.c.id).cte("ids")
        statement = insert(target).from_select(["customer_id"], select(ids.c.id))
        result = conn.execute(statement, execution_options={"preserve_rowcount": True})
        assert result.rowcount == 7
        assert conn.execute(select(func.count()).select_from(target)).scalar_one() == 7
        target.drop(conn)
