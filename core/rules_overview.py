"""Every loaded rule with its schedule, last run and what the ledger holds for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, case, func, select

from core.rules import RuleSet
from core.store import Store
from core.store.tables import LedgerEntry, RuleRun, table_of

ledger = table_of(LedgerEntry)
rule_runs = table_of(RuleRun)
STATUSES = ("pending", "sent", "done", "suppressed", "failed")
RECENT_DAYS = 30


@dataclass
class RuleLine:
    id: str
    where: str
    schedule: str
    once_per: str
    category: str
    priority: int
    enabled: bool
    last_run: int | None
    next_due: int | None
    firings: int = 0  # customers fired for (first actions), ever
    firings_recent: int = 0  # ... in the last RECENT_DAYS days
    by_status: dict[str, int] = field(default_factory=dict)  # every action row


def overview(store: Store, rules: RuleSet, now: int) -> list[RuleLine]:
    """One line per rule, in file order; counts over the whole ledger."""
    with store.engine.connect() as conn:
        last = dict(conn.execute(select(rule_runs.c.rule_id, rule_runs.c.last_as_of)).all())
        counts = _counts(conn, now)
    lines = []
    for rule in rules.rules:
        last_run = last.get(rule.id)
        firings, recent, by_status = counts.get(rule.id, (0, 0, {}))
        lines.append(
            RuleLine(
                id=rule.id,
                where=f"{rule.file}:{rule.line}",
                schedule=str(rule.schedule),
                once_per=str(rule.once_per),
                category=rule.category,
                priority=rule.priority,
                enabled=rule.enabled,
                last_run=last_run,
                next_due=rule.schedule.next_after(last_run if last_run is not None else now - 1)
                if rule.enabled
                else None,
                firings=firings,
                firings_recent=recent,
                by_status={s: by_status.get(s, 0) for s in STATUSES},
            )
        )
    return lines


def _counts(conn: Connection, now: int) -> dict[str, tuple[int, int, dict[str, int]]]:
    """Per rule: first-action rows ever, in the recent window, and all rows by status."""
    first = ledger.c.action_index == 0
    recent = ledger.c.created_at > now - RECENT_DAYS * 86400
    query = select(
        ledger.c.rule_id,
        ledger.c.status,
        func.count(),
        func.sum(case((first, 1), else_=0)),
        func.sum(case((first & recent, 1), else_=0)),
    ).group_by(ledger.c.rule_id, ledger.c.status)
    found: dict[str, tuple[int, int, dict[str, int]]] = {}
    for rule_id, status, rows, firings, recent_firings in conn.execute(query):
        total, recent_total, statuses = found.get(rule_id, (0, 0, {}))
        statuses[status] = int(rows)
        found[rule_id] = (
            total + int(firings or 0),
            recent_total + int(recent_firings or 0),
            statuses,
        )
    return found
