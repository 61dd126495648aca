"""Per-cycle TEMP tables of the journeys stage: purchases since enrollment, and moves.

``journey_progress`` holds, for every active enrollment, what the customer bought since
entering (purchases, spend net of refunds, the first purchase's instant): the journey
variables of conditions and the conversion recorded at exit. ``journey_moves`` holds the
enrollments leaving one instruction in this pass, with where they go.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from core.aggregates import count_if, min_if
from core.journeys.tables import EnrollmentStatus, enrollments
from core.sql_exists import probe
from core.store.tables import Event, table_of
from core.temp_tables import recreate, temp_table

DAY = 86400
events = table_of(Event)


def progress_table() -> Table:
    return temp_table(
        "journey_progress",
        Column("enrollment_id", BigInteger, primary_key=True),
        Column("purchases", Integer, nullable=False),
        Column("spend", BigInteger, nullable=False),
        Column("first_purchase_at", BigInteger),
    )


def moves_table() -> Table:
    return temp_table(
        "journey_moves",
        Column("enrollment_id", BigInteger, primary_key=True),
        Column("customer_id", Integer, nullable=False),
        Column("arm", String(16), nullable=False),
        Column("target", Integer, nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("due_at", BigInteger, nullable=False),
        Column("status", String(16), nullable=False),
        Column("ended_at", BigInteger),
    )


def fill_progress(conn: Connection, as_of: int) -> Table:
    """Purchases since enrollment of every active enrollment, as of ``as_of``."""
    table = progress_table()
    recreate(conn, table)
    e = enrollments
    is_purchase = events.c.type == "purchase"
    amount = func.coalesce(events.c.amount, 0)
    signed = case((events.c.type == "refund", -amount), (is_purchase, amount), else_=0)
    since_enrollment = and_(
        events.c.customer_id == e.c.customer_id,
        events.c.occurred_at > e.c.enrolled_at,
        events.c.occurred_at <= as_of,
        events.c.type.in_(["purchase", "refund"]),
    )
    query = (
        select(
            e.c.id,
            count_if(is_purchase),
            func.coalesce(func.sum(signed), 0),
            min_if(is_purchase, events.c.occurred_at),
        )
        .select_from(e.outerjoin(events, since_enrollment))
        .where(e.c.status == EnrollmentStatus.ACTIVE.value)
        .group_by(e.c.id)
    )
    conn.execute(
        insert(table).from_select(
            ["enrollment_id", "purchases", "spend", "first_purchase_at"], query
        )
    )
    return table


def add_new_enrollments(conn: Connection, journey_id: str, as_of: int) -> None:
    """Progress rows (nothing bought yet) for the enrollments made in this cycle."""
    table, e = progress_table(), enrollments
    fresh = select(e.c.id, literal(0), literal(0), literal(None, BigInteger())).where(
        e.c.journey_id == journey_id,
        e.c.status == EnrollmentStatus.ACTIVE.value,
        e.c.enrolled_at == as_of,
        ~probe(table.c.enrollment_id == e.c.id),
    )
    conn.execute(
        insert(table).from_select(
            ["enrollment_id", "purchases", "spend", "first_purchase_at"], fresh
        )
    )


def journey_columns(
    features: Table, progress: Table, as_of: int, enrollment: Any
) -> dict[str, ColumnElement[Any]]:
    """What journey conditions can name: every feature plus the journey variables.

    ``enrollment`` is the (aliased) enrollments table the conditions' query reads.
    """
    columns: dict[str, ColumnElement[Any]] = {
        c.name: c for c in features.columns if c.name != "customer_id"
    }
    days: ColumnElement[Any] = cast(literal(as_of) - enrollment.c.enrolled_at, Float) / float(DAY)
    columns["days_in_journey"] = days
    columns["purchases_since_enrollment"] = progress.c.purchases
    columns["spend_since_enrollment"] = progress.c.spend
    return columns


__all__ = [
    "add_new_enrollments",
    "fill_progress",
    "journey_columns",
    "moves_table",
    "progress_table",
]
