"""The escalation ladder: each level fires once per ticket episode, in order, set-based.

A level is *due* for a ticket when its trigger instant (``80% of response`` … computed by
:mod:`plugins.care.sla` on the ticket's clock) has passed while that clock still runs —
no response yet for a response-clock level, not resolved for a resolution-clock level —
its filters match, and no level at or above it has fired. A ``start`` entry makes its
level due as soon as a matching ticket is open. Only the highest due level of a ticket
fires: a cycle that finds a ticket already past its breach tells the supervisor, not the
agent about an approaching deadline, and a lower level never follows a higher one.

Firing writes the ledger row itself (record before effect), one ``INSERT … SELECT`` per
level with the idempotency key ``sla-escalation/<customer>/<ref>/<episode>/L<level>``,
so a repeated cycle adds nothing; the ticket's ``escalation_level`` is raised in the same
transaction. The rows are ``send`` actions of category ``service`` that delivery routes
to the level's recipient (``to``). A reopened ticket starts a new episode and a new ladder.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    and_,
    cast,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from core.sql_exists import probe
from core.sql_json import sql_json_object
from core.store import LedgerEntry, LedgerStatus
from core.store.ledger_args import args_columns
from core.store.tables import table_of
from core.temp_tables import recreate, temp_table
from plugins.care.sla import SlaRun, deadline, filter_sql, work_table
from plugins.care.sla_model import LevelModel
from plugins.care.tickets import care_tickets

RULE_ID = "sla-escalation"
CATEGORY = "service"
PRIORITY = 0
ledger = table_of(LedgerEntry)


def due_table() -> Table:
    return temp_table(
        "care_escalations_due",
        Column("customer_id", Integer, primary_key=True),
        Column("ref", String(128), primary_key=True),
        Column("level", Integer, primary_key=True),
        Column("episode", Integer, nullable=False),
    )


def _mark_due(conn: Connection, run: SlaRun, levels: list[LevelModel]) -> None:
    due, work, features = due_table(), work_table(), run.features
    recreate(conn, due)
    stored = care_tickets
    base = work.join(features, features.c.customer_id == work.c.customer_id).join(
        stored, and_(stored.c.customer_id == work.c.customer_id, stored.c.ref == work.c.ref)
    )
    unresolved: ColumnElement[bool] = work.c.resolved_at.is_(None)
    assert run.section.escalations is not None
    max_age = run.section.escalations.max_age_seconds
    if max_age is not None:
        unresolved = and_(unresolved, work.c.episode_started_at >= run.as_of - max_age)
    for level in levels:
        trigger = level.trigger
        running = (
            and_(unresolved, work.c.responded_at.is_(None))
            if trigger.clock == "response"
            else unresolved
        )
        at = deadline(f"L{level.level}", work)
        rows = (
            select(work.c.customer_id, work.c.ref, literal(level.level), work.c.episode)
            .select_from(base)
            .where(
                running,
                at.is_not(None),
                at <= run.as_of,
                stored.c.escalation_level < level.level,
                filter_sql(level, work, features),
            )
        )
        _insert_due(conn, due, rows)
    starts = run.section.escalations.start if run.section.escalations else []
    for entry in starts:
        rows = (
            select(work.c.customer_id, work.c.ref, literal(entry.level), work.c.episode)
            .select_from(base)
            .where(
                unresolved,
                stored.c.escalation_level < entry.level,
                filter_sql(entry, work, features),
            )
        )
        _insert_due(conn, due, rows)


def _insert_due(conn: Connection, due: Table, rows: Any) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(due).from_select(["customer_id", "ref", "level", "episode"], rows)
    conn.execute(statement.on_conflict_do_nothing())


def _fire(conn: Connection, run: SlaRun, level: LevelModel, cycle_id: int | None) -> int:
    due = due_table()
    higher = due.alias("higher")
    key = (
        literal(f"{RULE_ID}/")
        + cast(due.c.customer_id, String)
        + literal("/")
        + due.c.ref
        + literal("/")
        + cast(due.c.episode, String)
        + literal(f"/L{level.level}")
    )
    # What the level sends is shared by its rows; the ticket and episode are each row's.
    shared = {
        "channel": level.send.channel,
        "template": level.send.template,
        "to": level.send.to,
        "level": level.level,
    }
    own = sql_json_object(conn, {"ticket": due.c.ref, "episode": due.c.episode})
    rows = select(
        key.label("idempotency_key"),
        literal(cycle_id, Integer).label("cycle_id"),
        literal(RULE_ID).label("rule_id"),
        due.c.customer_id,
        (literal(f"L{level.level}#") + cast(due.c.episode, String)).label("period"),
        literal(0).label("action_index"),
        literal("send").label("action"),
        literal(CATEGORY).label("category"),
        literal(PRIORITY).label("priority"),
        literal(str(LedgerStatus.PENDING)).label("status"),
        literal(0).label("attempts"),
        literal(run.as_of, BigInteger).label("created_at"),
        literal(run.as_of, BigInteger).label("updated_at"),
        *args_columns(conn, shared, own),
    ).where(
        due.c.level == level.level,
        ~probe(
            higher.c.customer_id == due.c.customer_id,
            higher.c.ref == due.c.ref,
            higher.c.level > due.c.level,
        ),
        true(),
    )
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(ledger)
        .from_select([c.name for c in rows.selected_columns], rows)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    result = conn.execute(statement, execution_options={"preserve_rowcount": True})
    return int(result.rowcount or 0)


def _record_levels(conn: Connection, as_of: int) -> None:
    due, stored = due_table(), care_tickets
    top = (
        select(func.max(due.c.level))
        .where(due.c.customer_id == stored.c.customer_id, due.c.ref == stored.c.ref)
        .scalar_subquery()
    )
    conn.execute(
        update(stored)
        .where(probe(due.c.customer_id == stored.c.customer_id, due.c.ref == stored.c.ref))
        .values(escalation_level=top, escalated_at=as_of)
    )


def escalate(conn: Connection, run: SlaRun, cycle_id: int | None) -> dict[int, int]:
    """Fire the due levels of every ticket; return new ledger rows per level."""
    if run.section.escalations is None:
        return {}
    levels = sorted(run.section.escalations.levels, key=lambda lv: lv.level)
    _mark_due(conn, run, levels)
    fired = {level.level: _fire(conn, run, level, cycle_id) for level in levels}
    _record_levels(conn, run.as_of)
    return {level: count for level, count in fired.items() if count}
