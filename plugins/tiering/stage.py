"""The ``tiering`` cycle stage: decide every customer's tier, with hysteresis, in SQL.

After the features are materialized and before the rules run:

1. record the feature-relevant settings when they changed (and then recompute the RFM
   columns of this cycle's feature table with them);
2. the **candidate** tier of every customer is the first tier of the list whose
   condition holds (one ``CASE`` over the feature table);
3. against the stored status (``tier_states`` as of the cycle, read from its copy
   ``tier_current``: :mod:`plugins.tiering.current`) each customer gets an
   **action**: ``initial`` (first tier), ``upgrade`` (a better candidate: at once),
   ``downgrade`` (a worse candidate whose grace period has run out, or a tier with no
   grace), ``pending`` (a worse candidate: the grace period starts now), ``retarget``
   (still pending, now towards another tier), ``cancel`` (back at the tier's level: the
   pending downgrade is dropped), ``reassigned`` (the stored tier is no longer in the
   list) or ``same``;
4. every action but ``same`` appends a ``tier_states`` row valid from the cycle's
   instant (and copies it into ``tier_current``), and every change of tier appends a
   ``tier_changed`` event (``ref`` = the new tier, ``payload`` = ``{from, to, change}``,
   ``source_key`` = ``tier_changed/<as_of>/<customer id>``, so a repeated cycle adds
   nothing);
5. the tier columns of the feature table are refreshed from the stored status, with the
   same SQL the tier features use anywhere else.

A customer moving back and forth across a threshold is never downgraded: each cycle in
which the candidate is back at the tier's level cancels the pending downgrade.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    update,
)

from core.expr import feature_names, to_sql
from core.feature_sql import feature_columns
from core.sql_json import sql_json_object
from core.store.tables import Event, table_of
from core.temp_tables import recreate, temp_table
from core.vocabulary import CycleStage, Feature, StageContext
from plugins.tiering.current import keep_current, states_in_force
from plugins.tiering.features import TIER_FEATURES, tier_state_select
from plugins.tiering.in_force import FeatureSettings, record_settings
from plugins.tiering.sql import integer, upsert
from plugins.tiering.tables import tier_states
from plugins.tiering.tiers import TiersSection, section_of

events = table_of(Event)
CHANGED = ("initial", "upgrade", "downgrade", "reassigned")
EVENT_ACTIONS = ("upgrade", "downgrade", "reassigned")


def decisions_table() -> Table:
    return temp_table(
        "tiering_decisions",
        Column("customer_id", Integer, primary_key=True),
        Column("old_tier", String(64)),
        Column("old_since", BigInteger),
        Column("old_previous", String(64)),
        Column("old_change", String(16)),
        Column("old_downgrade_to", String(64)),
        Column("old_downgrade_at", BigInteger),
        Column("candidate", String(64), nullable=False),
        Column("action", String(16), nullable=False),
        Column("grace", BigInteger, nullable=False),
    )


def _by_tier(tier: Any, values: Sequence[tuple[str, int]], default: Any) -> Any:
    return case(*[(tier == name, integer(v)) for name, v in values], else_=default)


def decide(
    conn: Connection, features: Table, section: TiersSection, as_of: int, *, dry_run: bool = False
) -> Table:
    """Fill the TEMP decisions table: the candidate tier and action of every customer
    whose tier or pending downgrade changes (action other than ``same``). A dry run
    does not rebuild a missing ``tier_current`` (the history answers instead)."""
    columns = {c.name: c for c in features.columns}
    levels = section.levels
    conditions = section.conditions()
    matches = [
        (to_sql(expr, columns), index) for index, expr in enumerate(conditions) if expr is not None
    ]
    last = len(levels) - 1
    candidate = case(
        *[(sql, literal(levels[i].name)) for sql, i in matches], else_=literal(levels[last].name)
    )
    candidate_rank = case(*[(sql, integer(i)) for sql, i in matches], else_=integer(last))
    state = states_in_force(conn, as_of, may_write=not dry_run)
    ranks = [(level.name, i) for i, level in enumerate(levels)]
    graces = [(level.name, section.grace_seconds(level)) for level in levels]
    inner = (
        select(
            features.c.customer_id,
            state.c.tier.label("old_tier"),
            state.c.tier_since.label("old_since"),
            state.c.previous_tier.label("old_previous"),
            state.c.change.label("old_change"),
            state.c.downgrade_to.label("old_downgrade_to"),
            state.c.downgrade_at.label("old_downgrade_at"),
            candidate.label("candidate"),
            candidate_rank.label("candidate_rank"),
            _by_tier(state.c.tier, ranks, null()).label("current_rank"),
            _by_tier(state.c.tier, graces, integer(0)).label("grace"),
        )
        .select_from(features.outerjoin(state, state.c.customer_id == features.c.customer_id))
        .subquery("tiering_inner")
    )
    d = inner.c
    action = case(
        (d.old_tier.is_(None), literal("initial")),
        (d.current_rank.is_(None), literal("reassigned")),
        (d.candidate_rank < d.current_rank, literal("upgrade")),
        (
            d.candidate_rank == d.current_rank,
            case((d.old_downgrade_at.is_(None), literal("same")), else_=literal("cancel")),
        ),
        (and_(d.old_downgrade_at.is_(None), d.grace == 0), literal("downgrade")),
        (d.old_downgrade_at <= as_of, literal("downgrade")),
        (d.old_downgrade_at.is_(None), literal("pending")),
        (d.old_downgrade_to == d.candidate, literal("same")),
        else_=literal("retarget"),
    )
    table = decisions_table()
    recreate(conn, table)
    names = [c.name for c in table.columns]
    decided = select(*[d[n] for n in names if n != "action"], action.label("action")).subquery(
        "tiering_decided"
    )
    # Most customers keep their tier and status ("same"): nothing reads their rows, and
    # leaving them out writes a tenth of the base instead of all of it.
    rows = select(*[decided.c[n] for n in names]).where(decided.c.action != "same")
    conn.execute(insert(table).from_select(names, rows))
    return table


def write_states(conn: Connection, d: Table, as_of: int, cycle_id: int | None) -> None:
    """Append a ``tier_states`` row for every customer whose status changed."""
    changed = d.c.action.in_(CHANGED)
    pending = d.c.action.in_(("pending", "retarget"))
    rows = select(
        d.c.customer_id,
        literal(as_of).label("valid_from"),
        case((changed, d.c.candidate), else_=d.c.old_tier).label("tier"),
        case((changed, literal(as_of)), else_=d.c.old_since).label("tier_since"),
        case(
            (d.c.action == "initial", null()), (changed, d.c.old_tier), else_=d.c.old_previous
        ).label("previous_tier"),
        case((changed, d.c.action), else_=d.c.old_change).label("change"),
        case((pending, d.c.candidate)).label("downgrade_to"),
        case(
            (d.c.action == "pending", literal(as_of) + d.c.grace),
            (d.c.action == "retarget", d.c.old_downgrade_at),
        ).label("downgrade_at"),
        literal(cycle_id, BigInteger()).label("cycle_id"),
    ).where(d.c.action != "same")
    statement = (
        upsert(conn, tier_states)
        .from_select([c.name for c in rows.selected_columns], rows)
        .on_conflict_do_nothing(index_elements=["customer_id", "valid_from"])
    )
    conn.execute(statement)


def write_events(conn: Connection, d: Table, as_of: int) -> None:
    """A ``tier_changed`` event for every change of tier (not for a first tier)."""
    payload = sql_json_object(
        conn, {"from": d.c.old_tier, "to": d.c.candidate, "change": d.c.action}
    )
    rows = select(
        d.c.customer_id,
        literal("tier_changed").label("type"),
        literal(as_of).label("occurred_at"),
        d.c.candidate.label("ref"),
        payload.label("payload"),
        (literal(f"tier_changed/{as_of}/") + cast(d.c.customer_id, String)).label("source_key"),
    ).where(d.c.action.in_(EVENT_ACTIONS))
    statement = (
        upsert(conn, events)
        .from_select([c.name for c in rows.selected_columns], rows)
        .on_conflict_do_nothing(index_elements=["source_key"])
    )
    conn.execute(statement)


def refresh_columns(
    conn: Connection, table: Table, source: Table, features: Sequence[Feature]
) -> None:
    """Overwrite the feature table's columns of ``features`` from ``source`` (by customer).

    ``source`` is a table keyed by customer id: SQLite joins an UPDATE ... FROM subquery
    by scanning it once per row. The IN makes SQLite start from ``source``'s customers
    (a tenth of the base) and find their rows by key; without it, it read every row of
    the wide table to look each up in ``source``.
    """
    values = {f.name: source.c[f.name] for f in features}
    conn.execute(
        update(table)
        .values(values)
        .where(
            table.c.customer_id.in_(select(source.c.customer_id)),
            table.c.customer_id == source.c.customer_id,
        )
    )


def temp_of(conn: Connection, name: str, query: Any, features: Sequence[Feature]) -> Table:
    """``query`` (customer_id and the features' columns) in a TEMP table keyed by customer."""
    table = temp_table(name, *feature_columns(features))
    recreate(conn, table)
    conn.execute(insert(table).from_select([c.name for c in query.selected_columns], query))
    return table


def run_tiering(stage: StageContext) -> dict[str, int]:
    """Decide and store this cycle's tiers; return counts by action."""
    conn, features, as_of = stage.conn, stage.features, stage.ctx.as_of
    section = section_of(stage.rules)
    settings = FeatureSettings.of(section)
    d = decide(conn, features, section, as_of, dry_run=stage.dry_run)
    write_states(conn, d, as_of, stage.cycle_id)
    if not stage.dry_run:  # rolled back, and nothing later in the cycle reads the copy
        keep_current(conn, d, as_of)
    write_events(conn, d, as_of)
    # Only customers with a decision have a new state: everyone else's tier columns,
    # computed with the features as of this instant, are already what they would be.
    # Theirs is the row valid from this instant (just written, or written by an earlier
    # run at this instant): the row in force now, found by key, not by a search of
    # every customer's history for their latest.
    written = (
        select(tier_states)
        .select_from(
            d.join(
                tier_states,
                and_(
                    tier_states.c.customer_id == d.c.customer_id, tier_states.c.valid_from == as_of
                ),
            )
        )
        .subquery("tier_written")
    )
    query = tier_state_select(as_of, settings.priority_tiers, written)
    refresh_columns(
        conn,
        features,
        temp_of(conn, "tiering_tier_now", query, TIER_FEATURES),
        TIER_FEATURES,
    )
    counts: dict[str, int] = {
        str(action): int(n)
        for action, n in conn.execute(select(d.c.action, func.count()).group_by(d.c.action))
    }
    return {action: counts.get(action, 0) for action in (*CHANGED, "pending", "cancel")}


def record_tier_settings(stage: StageContext) -> dict[str, int]:
    """Store the ``tiers:`` feature settings (RFM bins, ...) in force from this instant
    when they changed, before the features: this cycle's RFM scores then use them."""
    settings = FeatureSettings.of(section_of(stage.rules))
    return {"settings_recorded": int(record_settings(stage.conn, settings, stage.ctx.as_of))}


def tiering_reads(rules: Any) -> set[str]:
    """What the stage reads and writes in the feature table: the tiers' conditions'
    features, and the tier features it refreshes."""
    names = {f.name for f in TIER_FEATURES}
    for condition in section_of(rules).conditions():
        if condition is not None:
            names |= feature_names(condition)
    return names


TIER_SETTINGS_STAGE = CycleStage(
    name="tiering-settings",
    run=record_tier_settings,
    description="Before the features: records changed tiers: feature settings (RFM bins "
    "and weights), so this cycle's RFM scores already use them.",
    before_features=True,
)

TIERING_STAGE = CycleStage(
    name="tiering",
    run=run_tiering,
    description="Decide every customer's tier (first matching tier; upgrades at once, "
    "downgrades after the grace period), store changes and tier_changed events.",
    reads=tiering_reads,
)

__all__ = [
    "TIERING_STAGE",
    "TIER_SETTINGS_STAGE",
    "decide",
    "record_tier_settings",
    "refresh_columns",
    "run_tiering",
    "tiering_reads",
]
