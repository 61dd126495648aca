"""Rule schedules as APScheduler 3 jobs, and what happens to ticks missed while down.

Each enabled rule is one job with its own trigger (its cron in the configured zone, or
its interval counted from the same anchor the cycle uses). A job does not evaluate the
rule itself: it asks for a cycle, and the cycle evaluates every rule that is due at that
instant (per ``rule_runs``), so rules due together share one feature computation.

Catch-up after downtime (``daemon.catch_up``), decided from ``rule_runs`` at start:

``once`` (default)  one cycle at start evaluates every rule that missed ticks, once
``skip``            missed ticks are dropped: those rules are marked evaluated now
``all``             one cycle per missed tick, oldest first (at most 100 per rule)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from core.rules import RuleDef
from core.store import RuleRun, Store
from core.store.tables import table_of

MAX_MISSED_PER_RULE = 100
rule_runs = table_of(RuleRun)


def trigger_of(rule: RuleDef, zone: ZoneInfo) -> object:
    schedule = rule.schedule
    if schedule.interval is not None:
        start = dt.datetime.fromtimestamp(schedule.anchor, zone)
        return IntervalTrigger(seconds=schedule.interval, start_date=start, timezone=zone)
    return schedule.trigger


def schedule_rules(
    scheduler: AsyncIOScheduler,
    rules: Sequence[RuleDef],
    zone: ZoneInfo,
    request_cycle: Callable[[str], None],
) -> None:
    """Replace the scheduler's rule jobs with one job per enabled rule."""
    for job in scheduler.get_jobs():
        if job.id.startswith("rule:"):
            job.remove()
    for rule in rules:
        if not rule.enabled:
            continue
        scheduler.add_job(
            request_cycle,
            trigger_of(rule, zone),
            args=[rule.id],
            id=f"rule:{rule.id}",
            name=rule.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            replace_existing=True,
        )


def last_runs(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        return {r: t for r, t in conn.execute(select(rule_runs.c.rule_id, rule_runs.c.last_as_of))}


def missed_ticks(rules: Sequence[RuleDef], last: dict[str, int], now: int) -> dict[str, list[int]]:
    """Per rule, its fire times after its last evaluation and not after ``now``."""
    missed: dict[str, list[int]] = {}
    for rule in rules:
        if not rule.enabled or rule.id not in last:
            continue
        ticks: list[int] = []
        after = last[rule.id]
        while len(ticks) < MAX_MISSED_PER_RULE:
            fire = rule.schedule.next_after(after)
            if fire is None or fire > now:
                break
            ticks.append(fire)
            after = fire
        if ticks:
            missed[rule.id] = ticks
    return missed


def catch_up_plan(
    policy: str, rules: Sequence[RuleDef], last: dict[str, int], now: int
) -> list[tuple[int, list[str]]]:
    """The cycles to run at start: (as_of, rule ids) in order; empty for ``skip``."""
    missed = missed_ticks(rules, last, now)
    never = [r.id for r in rules if r.enabled and r.id not in last]
    if policy == "skip":
        return [(now, never)] if never else []
    if policy == "once":
        due = sorted(set(missed) | set(never))
        return [(now, due)] if due else []
    by_tick: dict[int, list[str]] = defaultdict(list)
    for rule_id, ticks in missed.items():
        for tick in ticks:
            by_tick[tick].append(rule_id)
    plan = [(tick, sorted(ids)) for tick, ids in sorted(by_tick.items())]
    if never:
        plan.append((now, sorted(never)))
    return plan


def mark_evaluated(store: Store, rule_ids: Sequence[str], as_of: int) -> None:
    """Record rules as evaluated at ``as_of`` without evaluating them (``catch_up: skip``)."""
    if not rule_ids:
        return
    with store.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        for rule_id in rule_ids:
            conn.execute(
                insert(rule_runs)
                .values(rule_id=rule_id, last_as_of=as_of)
                .on_conflict_do_update(index_elements=["rule_id"], set_={"last_as_of": as_of})
            )


__all__ = [
    "catch_up_plan",
    "last_runs",
    "mark_evaluated",
    "missed_ticks",
    "schedule_rules",
    "trigger_of",
]
