"""What the rules did over a period, counted set-based from the ledger.

Per rule and channel: action rows written (fired), sent, suppressed by reason, failed,
still pending, and conversions. A **conversion** is a sent message whose customer made
a purchase within ``conversion_days`` after it was sent (counted once per message);
it is attribution by time, not proof of cause — journeys' holdouts measure cause.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, case, func, select

from core.journeys.report import JourneyStats, journey_stats
from core.sql_exists import probe
from core.store import Event
from core.store.ledger_args import argument, ledger_with_args
from core.store.tables import LedgerEntry, table_of

ledger = table_of(LedgerEntry)
events = table_of(Event)
DAY = 86400


@dataclass
class RuleChannel:
    rule_id: str
    channel: str
    fired: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    done: int = 0
    converted: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)

    @property
    def suppressed_total(self) -> int:
        return sum(self.suppressed.values())


@dataclass
class Report:
    since: int
    until: int
    conversion_days: int
    rows: list[RuleChannel]
    sends_per_day: dict[str, int]  # local date → messages sent
    reasons: Counter[str]
    journeys: list[JourneyStats]


def build_report(
    conn: Connection, since: int, until: int, zone: ZoneInfo, conversion_days: int = 7
) -> Report:
    in_period = and_(ledger.c.created_at >= since, ledger.c.created_at <= until)
    with_args, shared = ledger_with_args()
    channel = func.coalesce(argument(shared, "channel"), "")
    bought = probe(
        events.c.customer_id == ledger.c.customer_id,
        events.c.type == "purchase",
        events.c.occurred_at > ledger.c.sent_at,
        events.c.occurred_at <= ledger.c.sent_at + conversion_days * DAY,
    )
    converted = case((and_(ledger.c.status == "sent", bought), 1), else_=0)
    query = (
        select(
            ledger.c.rule_id,
            channel.label("channel"),
            ledger.c.status,
            ledger.c.suppressed_reason,
            func.count(),
            func.sum(converted),
        )
        .select_from(with_args)
        .where(in_period)
        .group_by(ledger.c.rule_id, channel, ledger.c.status, ledger.c.suppressed_reason)
    )
    rows: dict[tuple[str, str], RuleChannel] = {}
    reasons: Counter[str] = Counter()
    for rule_id, channel_name, status, reason, count, conversions in conn.execute(query):
        row = rows.setdefault((rule_id, channel_name), RuleChannel(rule_id, channel_name))
        row.fired += int(count)
        row.converted += int(conversions or 0)
        if status == "suppressed":
            row.suppressed[reason or "no reason recorded"] += int(count)
            reasons[reason or "no reason recorded"] += int(count)
        elif status in ("sent", "failed", "pending", "done"):
            setattr(row, status, getattr(row, status) + int(count))
    offset = int(
        (dt.datetime.fromtimestamp(until, zone).utcoffset() or dt.timedelta()).total_seconds()
    )
    day = (ledger.c.sent_at + offset) / DAY
    per_day = (
        select(func.floor(day), func.count())
        .where(in_period, ledger.c.status == "sent", ledger.c.sent_at.is_not(None))
        .group_by(func.floor(day))
    )
    counted = {int(d): int(n) for d, n in conn.execute(per_day)}
    first, last = (since + offset) // DAY, (until + offset) // DAY
    sends = {  # every day of the period, quiet days included
        (dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat(): counted.get(d, 0)
        for d in range(min([first, *counted]), max([last, *counted]) + 1)
    }
    return Report(
        since=since,
        until=until,
        conversion_days=conversion_days,
        rows=sorted(rows.values(), key=lambda r: (r.rule_id, r.channel)),
        sends_per_day=dict(sorted(sends.items())),
        reasons=reasons,
        journeys=journey_stats(conn, until, since),
    )
