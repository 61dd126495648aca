"""Count what a replay did, per rule and period, from the scratch ledger; compare two runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.store import Customer, Store
from core.store.tables import LedgerEntry, table_of

ledger = table_of(LedgerEntry)
customers = table_of(Customer)
BUCKETS = ("day", "week", "month")


@dataclass
class Tally:
    """Per (rule, period): customers fired for, and action rows by outcome."""

    fired: Counter[tuple[str, str]] = field(default_factory=Counter)
    outcomes: dict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    who: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def rules(self) -> list[str]:
        return sorted({rule for rule, _ in self.fired} | {rule for rule, _ in self.outcomes})

    def columns(self) -> list[str]:
        return sorted({k for c in self.outcomes.values() for k in c})


def period_of(instant: int, zone: ZoneInfo, bucket: str) -> str:
    day = dt.datetime.fromtimestamp(instant, zone).date()
    if bucket == "day":
        return day.isoformat()
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def tally(store: Store, zone: ZoneInfo, bucket: str) -> Tally:
    found = Tally()
    query = select(
        ledger.c.rule_id,
        ledger.c.created_at,
        ledger.c.action_index,
        ledger.c.status,
        ledger.c.suppressed_reason,
        customers.c.external_id,
    ).join(customers, customers.c.id == ledger.c.customer_id)
    firings: set[tuple[str, str, int]] = set()  # a firing: (rule, customer, instant)
    with store.engine.connect() as conn:
        for rule, created, _index, status, reason, customer in conn.execute(query):
            key = (rule, period_of(created, zone, bucket))
            if (rule, customer, created) not in firings:  # its actions, or a journey step
                firings.add((rule, customer, created))
                found.fired[key] += 1
                found.who[rule].add(customer)
            outcome = f"suppressed: {reason}" if status == "suppressed" else status
            found.outcomes[key][outcome] += 1
    return found


def to_csv(found: Tally) -> str:
    """rule, period, fired, then one column per outcome (sent, suppressed: <reason> ...)."""
    columns = found.columns()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rule", "period", "fired", *columns])
    keys = sorted(set(found.fired) | set(found.outcomes))
    for rule, period in keys:
        counts = found.outcomes.get((rule, period), Counter())
        writer.writerow([rule, period, found.fired[(rule, period)], *(counts[c] for c in columns)])
    return out.getvalue()


def render(found: Tally) -> str:
    """Per rule: fired in all and per period, and the outcomes of its actions."""
    lines: list[str] = []
    for rule in found.rules():
        periods = sorted(p for r, p in found.fired if r == rule)
        total = sum(found.fired[(rule, p)] for p in periods)
        outcomes: Counter[str] = Counter()
        for (r, _p), counts in found.outcomes.items():
            if r == rule:
                outcomes.update(counts)
        lines.append(f"{rule}: fired {total}")
        if periods:
            lines.append("  " + "  ".join(f"{p} {found.fired[(rule, p)]}" for p in periods))
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return "\n".join(lines) if lines else "nothing would have fired"


def compare(base: Tally, other: Tally, sample: int = 5) -> str:
    """What changes from ``base`` to ``other``, per rule, with customers who differ."""
    lines: list[str] = []
    for rule in sorted(set(base.rules()) | set(other.rules())):
        a = sum(n for (r, _), n in base.fired.items() if r == rule)
        b = sum(n for (r, _), n in other.fired.items() if r == rule)
        gained = sorted(other.who[rule] - base.who[rule])
        lost = sorted(base.who[rule] - other.who[rule])
        if a == b and not gained and not lost:
            continue
        change = "added" if a == 0 else "removed" if b == 0 else "changed"
        lines.append(f"{rule}: {change}, fired {a} → {b} ({b - a:+d})")
        if gained:
            lines.append(f"  + {len(gained)} customers, e.g. {', '.join(gained[:sample])}")
        if lost:
            lines.append(f"  - {len(lost)} customers, e.g. {', '.join(lost[:sample])}")
    return "\n".join(lines) if lines else "no difference"
