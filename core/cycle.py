"""One cycle: every due rule evaluated against every customer, as of one instant.

0. stages     plugin stages that say ``before_features`` (churn fits its model here)
1. features   the feature sets that the due rules, the stages and the effects read
              (:mod:`core.cycle_features`) into the connection's TEMP
              ``patron_features`` table, then the other plugin stages (tiering, care
              SLA, journeys)
2. evaluate   every due rule's compiled ``when`` in one pass over the feature table
              (:mod:`core.matching`); per rule, its customers go into TEMP
              ``patron_matches`` (no customer passes through Python)
3. ledger     per action, ``INSERT ... SELECT ... ON CONFLICT (idempotency_key) DO NOTHING``;
              a ``once_per`` duration also excludes customers fired within the window

Everything happens in one transaction on one connection: the cycle's ledger rows
appear together or not at all. A dry run does the same work and rolls back.
On PostgreSQL a transaction-scoped advisory lock makes sure only one process runs a
cycle at a time; another one finds the lock taken and skips.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    String,
    Table,
    cast,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.config import Settings
from core.cycle_features import cycle_features
from core.features import materialize, unkept_first_stage
from core.kept_sets import KEPT_KEY
from core.matching import RuleMatches
from core.parallel_features import first_stage_split, scratch_database
from core.registry import Registry
from core.rules import RuleDef, RuleSet
from core.sql_exists import probe
from core.store import CycleRun, LedgerEntry, LedgerStatus, RuleRun, Store
from core.store.checkpoint import checkpoint_after
from core.store.cycle_lock import try_cycle_lock
from core.store.ledger_args import args_columns
from core.store.statistics import IN_CYCLE
from core.store.tables import table_of
from core.temp_tables import recreate, temp_table
from core.vocabulary import (
    ActionKind,
    CycleStage,
    EffectContext,
    FeatureContext,
    StageContext,
)

ledger = table_of(LedgerEntry)
rule_runs = table_of(RuleRun)
cycles = table_of(CycleRun)


@dataclass
class RuleOutcome:
    """What one rule did in one cycle."""

    rule_id: str
    due: bool
    matched: int = 0
    new: int = 0
    already: int = 0
    sample: list[int] = field(default_factory=list)  # customer ids of new firings (dry runs)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"due": self.due, "matched": self.matched, "new": self.new, "already": self.already}


@dataclass
class CycleSummary:
    """The result of one cycle, printed by the CLI and stored on the cycle row."""

    as_of: int
    dry_run: bool
    customers: int = 0
    outcomes: list[RuleOutcome] = field(default_factory=list)
    cycle_id: int | None = None
    seconds: float = 0.0
    feature_seconds: float = 0.0
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None  # set when another process holds the cycle lock
    # Per kept feature set, the customers it recomputed (None: rebuilt in full).
    kept: dict[str, int | None] = field(default_factory=dict)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)


def matches_table() -> Table:
    return temp_table("patron_matches", Column("customer_id", Integer, primary_key=True))


def _insert(conn: Connection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(ledger)


def _last_runs(conn: Connection) -> dict[str, int]:
    return {r: t for r, t in conn.execute(select(rule_runs.c.rule_id, rule_runs.c.last_as_of))}


def due_rules(
    rules: Sequence[RuleDef], last_runs: dict[str, int], as_of: int, *, force: bool
) -> list[tuple[RuleDef, bool]]:
    """Enabled rules in priority order, each with whether its schedule is due at ``as_of``."""
    ordered = sorted((r for r in rules if r.enabled), key=lambda r: (r.priority, r.id))
    return [(r, force or r.schedule.is_due(last_runs.get(r.id), as_of)) for r in ordered]


def _evaluate_rule(
    conn: Connection,
    rule: RuleDef,
    features: Table,
    matching: RuleMatches,
    settings: Settings,
    as_of: int,
    cycle_id: int | None,
    dry_run: bool,
    sample_size: int,
) -> RuleOutcome:
    outcome = RuleOutcome(rule.id, due=True)
    outcome.matched = matching.count(rule)
    if not outcome.matched:
        return outcome
    matches = matches_table()
    recreate(conn, matches)

    period = rule.once_per.period_key(as_of, settings.zone)

    def key(index: int, customer: Any) -> Any:
        return literal(f"{rule.id}/{period}/") + cast(customer, String) + literal(f"/{index}")

    # Customers this rule already fired for are left out before any key is built for
    # every action. Each test is answered by one index alone: in this period, the unique
    # key of the first action (exactly what that action's insert would conflict on; a
    # probe of (rule, customer) had to read each earlier firing's row for its period);
    # for a duration, any firing of the rule within the window ((rule, customer,
    # created_at); all of a firing's actions share its instant, and checking per action
    # would see this cycle's own first-action rows). The UNIQUE key stays the guarantee.
    matched = matching.customers(rule)
    customer = matched.selected_columns.customer_id
    earlier = ledger.alias("earlier")
    if rule.once_per.lookback_seconds is None:
        fired = probe(earlier.c.idempotency_key == key(0, customer))
    else:
        fired = probe(
            earlier.c.rule_id == rule.id,
            earlier.c.customer_id == customer,
            earlier.c.created_at > as_of - rule.once_per.lookback_seconds,
            earlier.c.created_at <= as_of,
        )
    conn.execute(insert(matches).from_select(["customer_id"], matched.where(~fired)))
    fresh = [true()]  # SQLite needs a WHERE on INSERT ... SELECT ... ON CONFLICT

    if dry_run:
        candidates = select(matches.c.customer_id).where(
            *fresh, ~probe(ledger.c.idempotency_key == key(0, matches.c.customer_id))
        )
        ids = [row[0] for row in conn.execute(candidates.order_by(matches.c.customer_id))]
        outcome.new = len(ids)
        outcome.sample = ids[:sample_size]
    else:
        for action in rule.actions:
            status = (
                LedgerStatus.PENDING
                if action.type.kind is ActionKind.MESSAGE
                else LedgerStatus.DONE
            )
            rows = select(
                key(action.index, matches.c.customer_id).label("idempotency_key"),
                literal(cycle_id).label("cycle_id"),
                literal(rule.id).label("rule_id"),
                matches.c.customer_id,
                literal(period).label("period"),
                literal(action.index).label("action_index"),
                literal(action.type.name).label("action"),
                literal(rule.category).label("category"),
                literal(rule.priority).label("priority"),
                literal(str(status)).label("status"),
                literal(0).label("attempts"),
                literal(as_of).label("created_at"),
                literal(as_of).label("updated_at"),
                # The action's arguments are the same on every row: stored once, named.
                *args_columns(conn, action.params.model_dump(mode="json")),
            ).where(*fresh)
            names = [c.name for c in rows.selected_columns]
            if action.type.apply is not None:
                # This insert's rows are the ledger's ids above the highest one now: the
                # effect finds them by a range of the primary key (an index of the
                # cycle's firings would be one more B-tree written for every ledger row).
                written_after = conn.execute(
                    select(func.coalesce(func.max(ledger.c.id), 0))
                ).scalar_one()
            statement = (
                _insert(conn)
                .from_select(names, rows)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            inserted = conn.execute(
                statement, execution_options={"preserve_rowcount": True}
            ).rowcount
            if action.index == 0:
                outcome.new = inserted
            if action.type.apply is not None and inserted:
                firings = select(ledger.c.id.label("ledger_id"), ledger.c.customer_id).where(
                    ledger.c.id > written_after,
                    ledger.c.cycle_id == cycle_id,
                    ledger.c.rule_id == rule.id,
                    ledger.c.action_index == action.index,
                )
                action.type.apply(
                    EffectContext(
                        conn=conn,
                        rule_id=rule.id,
                        action_index=action.index,
                        params=action.params,
                        firings=firings,
                        features=features,
                        as_of=as_of,
                        cycle_id=cycle_id,
                        settings=settings,
                    )
                )
    outcome.already = outcome.matched - outcome.new
    return outcome


def run_cycle(
    store: Store,
    registry: Registry,
    settings: Settings,
    rules: RuleSet,
    as_of: int,
    *,
    dry_run: bool = False,
    force: bool = False,
    only: Sequence[str] = (),
    pm: pluggy.PluginManager | None = None,
    sample_size: int = 20,
    clock: Any = time.time,
) -> CycleSummary:
    """Evaluate the due rules (all enabled ones with ``force``) as of ``as_of``.

    ``only`` restricts the cycle to the named rules. ``clock`` stamps the cycle row's
    start and finish (operational bookkeeping, never used in rule logic).
    """
    started = time.perf_counter()
    summary = CycleSummary(as_of=as_of, dry_run=dry_run)
    selected = [r for r in rules.rules if not only or r.id in only]
    with (
        store.engine.connect() as conn,
        scratch_database(conn, registry),
        checkpoint_after(conn, store),
    ):
        transaction = conn.begin()
        conn.info[IN_CYCLE] = True
        try:
            if not try_cycle_lock(conn):
                summary.skipped = "another process is running a cycle"
                transaction.rollback()
                return summary
            if conn.dialect.name == "postgresql" and settings.cycle_work_mem:
                # Validated by its pattern: a SET takes no bound parameter.
                conn.exec_driver_sql(f"SET LOCAL work_mem = '{settings.cycle_work_mem}'")
            plan = due_rules(selected, _last_runs(conn), as_of, force=force)
            if pm is not None:
                pm.hook.patron_cycle_started(as_of=as_of, rule_ids=[r.id for r, due in plan if due])
            if not dry_run:
                summary.cycle_id = conn.execute(
                    insert(cycles).values(
                        as_of=as_of, started_at=int(clock()), customers=0, summary={}
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            stages = list(registry.cycle_stages.items.values())  # ordered by `after`
            # Only the features the due rules, the stages and the effects read.
            wanted = cycle_features(registry, rules, [r for r, due in plan if due], stages)
            ctx = FeatureContext(
                as_of=as_of, settings=settings, store=store, read_only=dry_run, wanted=wanted
            )
            early = StageContext(conn, ctx, None, rules, summary.cycle_id, dry_run)
            # A helper connection (SQLite file stores) starts on the feature sets nobody
            # keeps now, while this one runs the early stages and the kept sets.
            unkept = unkept_first_stage(registry, ctx)
            with first_stage_split(conn, registry, ctx, unkept) as split:
                _run_stages(summary, early, [s for s in stages if s.before_features])
                features_started = time.perf_counter()
                features = materialize(conn, registry, ctx, split=split)
            summary.customers = conn.execute(
                select(func.count()).select_from(features)
            ).scalar_one()
            summary.feature_seconds = time.perf_counter() - features_started
            summary.kept = dict(ctx.cycle_state.get(KEPT_KEY, {}))
            stage_ctx = StageContext(conn, ctx, features, rules, summary.cycle_id, dry_run)
            _run_stages(summary, stage_ctx, [s for s in stages if not s.before_features])
            matching = RuleMatches(conn, features, [rule for rule, due in plan if due])
            for rule, due in plan:
                if not due:
                    summary.outcomes.append(RuleOutcome(rule.id, due=False))
                    continue
                rule_started = time.perf_counter()
                outcome = _evaluate_rule(
                    conn,
                    rule,
                    features,
                    matching,
                    settings,
                    as_of,
                    summary.cycle_id,
                    dry_run,
                    sample_size,
                )
                outcome.seconds = time.perf_counter() - rule_started
                summary.outcomes.append(outcome)
                if not dry_run:
                    _record_rule_run(conn, rule.id, as_of)
            summary.seconds = time.perf_counter() - started
            if dry_run:
                transaction.rollback()
            else:
                conn.execute(
                    cycles.update()
                    .where(cycles.c.id == summary.cycle_id)
                    .values(
                        finished_at=int(clock()),
                        customers=summary.customers,
                        summary={o.rule_id: o.as_dict() for o in summary.outcomes},
                    )
                )
                transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
        finally:
            conn.info.pop(IN_CYCLE, None)
    if pm is not None and not dry_run:
        pm.hook.patron_cycle_finished(
            as_of=as_of, summary={o.rule_id: o.as_dict() for o in summary.outcomes}
        )
    return summary


def _run_stages(summary: CycleSummary, ctx: StageContext, stages: Sequence[CycleStage]) -> None:
    for stage in stages:
        started = time.perf_counter()
        summary.stages[stage.name] = stage.run(ctx)
        summary.stage_seconds[stage.name] = time.perf_counter() - started


def _record_rule_run(conn: Connection, rule_id: str, as_of: int) -> None:
    upsert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(rule_runs)
    conn.execute(
        upsert.values(rule_id=rule_id, last_as_of=as_of).on_conflict_do_update(
            index_elements=["rule_id"], set_={"last_as_of": as_of}
        )
    )
