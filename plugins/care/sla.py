"""SLA deadlines for every ticket, set-based, and the ``care_tickets`` table kept current.

One cycle, in the cycle's transaction (called by :mod:`plugins.care.stage`):

1. ``care_ticket_work`` (TEMP): the facts (:func:`plugins.care.tickets.ticket_facts`) of
   the tickets whose state may have changed — open now, open when last stored, new, or
   with events since — plus what was stored about them (escalation level, breaches).
2. ``care_ticket_clocks`` (TEMP): one row per (ticket, matching profile) with the profile's
   rank in the list and the clock's start as a working position
   (:mod:`plugins.care.business_hours`); one INSERT per profile.
3. ``care_ticket_deadlines`` (TEMP): per (ticket, kind) the deadline of the first matching
   profile that sets that target: ``respond``, ``resolve``, and one kind per escalation
   level (``L1`` …) on the clock of the profile that set the level's target.
4. An upsert of ``care_tickets`` with the deadlines, the profiles they came from and
   whether the response or resolution deadline was breached (in any episode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    String,
    Table,
    and_,
    case,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from core.expr import parse, to_sql
from core.sql_exists import probe
from core.temp_tables import recreate, temp_table
from plugins.care.business_hours import (
    WorkingCalendar,
    fill_intervals,
    instant_at,
    position_at,
)
from plugins.care.sla_model import LevelModel, SlaSection, TicketFilter
from plugins.care.tickets import care_tickets, fill_complaint_events, ticket_facts


def work_table() -> Table:
    return temp_table(
        "care_ticket_work",
        Column("customer_id", Integer, primary_key=True),
        Column("ref", String(128), primary_key=True),
        Column("severity", String(32)),
        Column("channel", String(32)),
        Column("topic", String(64)),
        Column("opened_at", BigInteger),
        Column("episode", Integer),
        Column("episode_started_at", BigInteger),
        Column("first_response_at", BigInteger),
        Column("responded_at", BigInteger),
        Column("resolved_at", BigInteger),
        Column("last_event_at", BigInteger),
        Column("prior_response_breached", Boolean),
        Column("prior_resolution_breached", Boolean),
        Column("prior_level", Integer),
        Column("prior_escalated_at", BigInteger),
    )


def clocks_table() -> Table:
    return temp_table(
        "care_ticket_clocks",
        Column("customer_id", Integer, primary_key=True),
        Column("ref", String(128), primary_key=True),
        Column("profile", String(64), primary_key=True),
        Column("rank", Integer, nullable=False),
        Column("calendar", String(64)),
        Column("start_at", BigInteger),
        Column("start_position", BigInteger),
        Column("respond_seconds", BigInteger),
        Column("resolve_seconds", BigInteger),
    )


def deadlines_table() -> Table:
    return temp_table(
        "care_ticket_deadlines",
        Column("customer_id", Integer, primary_key=True),
        Column("ref", String(128), primary_key=True),
        Column("kind", String(8), primary_key=True),
        Column("profile", String(64)),
        Column("due_at", BigInteger),
    )


@dataclass(frozen=True)
class SlaRun:
    """What one refresh needs: the section, the cycle's feature table and instant."""

    section: SlaSection
    features: Table
    as_of: int
    default_zone: str


def filter_sql(flt: TicketFilter, tickets: Any, features: Table) -> ColumnElement[bool]:
    """The filters of a profile, level or start entry as a predicate over tickets ⨝ features."""
    parts: list[ColumnElement[bool]] = [true()]
    for name in ("severity", "channel", "topic"):
        wanted = getattr(flt, name)
        if wanted is not None:
            parts.append(tickets.c[name].in_([w.lower() for w in wanted]))
    if flt.when:
        columns = {c.name: c for c in features.columns}
        parts.append(to_sql(parse(flt.when), columns))
    return and_(*parts)


def _fill_work(conn: Connection, as_of: int, customers: Any) -> int:
    work = work_table()
    recreate(conn, work)
    facts = ticket_facts(fill_complaint_events(conn, as_of, customers)).subquery("facts")
    stored = care_tickets
    trusted = and_(stored.c.customer_id.is_not(None), stored.c.updated_at <= as_of)
    same_episode = and_(trusted, stored.c.episode == facts.c.episode)
    changed = or_(
        facts.c.resolved_at.is_(None),
        stored.c.customer_id.is_(None),
        stored.c.resolved_at.is_(None),
        stored.c.episode != facts.c.episode,
        stored.c.updated_at > as_of,
        facts.c.last_event_at > stored.c.updated_at,
    )
    rows = (
        select(
            *facts.c,
            case((trusted, stored.c.response_breached), else_=false()).label(
                "prior_response_breached"
            ),
            case((trusted, stored.c.resolution_breached), else_=false()).label(
                "prior_resolution_breached"
            ),
            case((same_episode, stored.c.escalation_level), else_=0).label("prior_level"),
            case((same_episode, stored.c.escalated_at), else_=null()).label("prior_escalated_at"),
        )
        .select_from(
            facts.outerjoin(
                stored,
                and_(stored.c.customer_id == facts.c.customer_id, stored.c.ref == facts.c.ref),
            )
        )
        .where(changed)
    )
    names = [c.name for c in rows.selected_columns]
    result = conn.execute(
        insert(work).from_select(names, rows), execution_options={"preserve_rowcount": True}
    )
    return int(result.rowcount or 0)


def _lay_out_calendars(conn: Connection, run: SlaRun) -> None:
    used = {p.clock for p in run.section.profiles if p.clock}
    calendars = [
        WorkingCalendar.from_model(name, run.section.calendars[name], run.default_zone)
        for name in sorted(used)
        if name in run.section.calendars
    ]
    work = work_table()
    earliest = conn.execute(select(func.min(work.c.episode_started_at))).scalar()
    longest = max(
        [0]
        + [p.respond_seconds or 0 for p in run.section.profiles]
        + [p.resolve_seconds or 0 for p in run.section.profiles]
    )
    percent = max([100.0] + [lv.trigger.percent for lv in _levels(run.section)])
    fill_intervals(
        conn, calendars, int(earliest or run.as_of), run.as_of, int(longest * percent / 100)
    )


def _levels(section: SlaSection) -> list[LevelModel]:
    return list(section.escalations.levels) if section.escalations else []


def _fill_clocks(conn: Connection, run: SlaRun) -> None:
    clocks, work, features = clocks_table(), work_table(), run.features
    recreate(conn, clocks)
    for rank, profile in enumerate(run.section.profiles):
        calendar = literal(profile.clock, String) if profile.clock else null()
        start = work.c.episode_started_at
        position = position_at(calendar, start) if profile.clock else start
        rows = (
            select(
                work.c.customer_id,
                work.c.ref,
                literal(profile.name).label("profile"),
                literal(rank).label("rank"),
                calendar.label("calendar"),
                start.label("start_at"),
                position.label("start_position"),
                literal(profile.respond_seconds, BigInteger).label("respond_seconds"),
                literal(profile.resolve_seconds, BigInteger).label("resolve_seconds"),
            )
            .select_from(work.join(features, features.c.customer_id == work.c.customer_id))
            .where(filter_sql(profile, work, features))
        )
        conn.execute(insert(clocks).from_select([c.name for c in rows.selected_columns], rows))


def _due(clocks: Table, seconds: ColumnElement[Any]) -> ColumnElement[Any]:
    """The instant ``seconds`` of clock time after each clock's start."""
    return case(
        (clocks.c.calendar.is_(None), clocks.c.start_at + seconds),
        else_=instant_at(clocks.c.calendar, clocks.c.start_position + seconds),
    )


def _fill_deadlines(conn: Connection, run: SlaRun) -> None:
    clocks, deadlines = clocks_table(), deadlines_table()
    earlier = clocks.alias("earlier")
    recreate(conn, deadlines)
    kinds: list[tuple[str, str, int]] = [
        ("respond", "respond_seconds", 1000),
        ("resolve", "resolve_seconds", 1000),
    ]
    for level in _levels(run.section):
        trigger = level.trigger
        target = "respond_seconds" if trigger.clock == "response" else "resolve_seconds"
        kinds.append((f"L{level.level}", target, trigger.per_mille))
    for kind, target, per_mille in kinds:
        seconds = clocks.c[target] * per_mille // 1000
        first = ~probe(
            earlier.c.customer_id == clocks.c.customer_id,
            earlier.c.ref == clocks.c.ref,
            earlier.c[target].is_not(None),
            earlier.c.rank < clocks.c.rank,
        )
        rows = select(
            clocks.c.customer_id,
            clocks.c.ref,
            literal(kind).label("kind"),
            clocks.c.profile,
            _due(clocks, seconds).label("due_at"),
        ).where(clocks.c[target].is_not(None), first)
        columns = ["customer_id", "ref", "kind", "profile", "due_at"]
        conn.execute(insert(deadlines).from_select(columns, rows))


def deadline(kind: str, tickets: Any, column: str = "due_at") -> Any:
    """The ``kind`` deadline (or the profile it came from) of each row of ``tickets``."""
    d = deadlines_table().alias(f"d_{kind.lower()}")
    return (
        select(d.c[column])
        .where(d.c.customer_id == tickets.c.customer_id, d.c.ref == tickets.c.ref, d.c.kind == kind)
        .scalar_subquery()
    )


def _breached(done_at: ColumnElement[Any], due: Any, as_of: int) -> ColumnElement[bool]:
    return and_(
        due.is_not(None),
        or_(
            and_(done_at.is_not(None), done_at > due), and_(done_at.is_(None), literal(as_of) > due)
        ),
    )


def _upsert(conn: Connection, run: SlaRun) -> None:
    work = work_table()
    respond_due, resolve_due = deadline("respond", work), deadline("resolve", work)
    rows = select(
        work.c.customer_id,
        work.c.ref,
        work.c.severity,
        work.c.channel,
        work.c.topic,
        work.c.opened_at,
        work.c.episode,
        work.c.episode_started_at,
        work.c.first_response_at,
        work.c.responded_at,
        work.c.resolved_at,
        deadline("respond", work, "profile").label("response_profile"),
        deadline("resolve", work, "profile").label("resolution_profile"),
        respond_due.label("response_due_at"),
        resolve_due.label("resolution_due_at"),
        or_(
            work.c.prior_response_breached, _breached(work.c.responded_at, respond_due, run.as_of)
        ).label("response_breached"),
        or_(
            work.c.prior_resolution_breached, _breached(work.c.resolved_at, resolve_due, run.as_of)
        ).label("resolution_breached"),
        work.c.prior_level.label("escalation_level"),
        work.c.prior_escalated_at.label("escalated_at"),
        literal(run.as_of, BigInteger).label("updated_at"),
    ).where(true())
    columns = [c.name for c in rows.selected_columns]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(care_tickets).from_select(columns, rows)
    keep = {"customer_id", "ref"}
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id", "ref"],
        set_={name: statement.excluded[name] for name in columns if name not in keep},
    )
    conn.execute(statement)


def refresh_tickets(conn: Connection, run: SlaRun, customers: Any = None) -> int:
    """Recompute the tickets that may have changed (of ``customers``, a SELECT of ids,
    if given: :mod:`plugins.care.ticket_changes`); return how many."""
    changed = _fill_work(conn, run.as_of, customers)
    if not changed:
        return 0
    _lay_out_calendars(conn, run)
    _fill_clocks(conn, run)
    _fill_deadlines(conn, run)
    _upsert(conn, run)
    return changed
