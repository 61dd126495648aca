"""``patron report service``: the monthly service analysis (SEEDS §5.6, item 24).

For the tickets **opened** in the month (from ``care_tickets``, kept by the cycles):
time to first response and to resolution (median and 90th percentile, in hours, wall
clock), and how many missed their response or resolution deadline, by severity; the
escalations written in the month, by level; and for the surveys **answered** in the
month: CSAT (mean of 1–5 and the share answering 4 or 5, against the 85% target of
SEEDS §6.1) and NPS = % promoters (9–10) − % detractors (0–6), on a −100…100 scale.

Percentiles interpolate linearly between the two nearest ranks (numpy's default); a
month is a calendar month in patron.yaml's time zone.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import click
import numpy as np
from sqlalchemy import Connection, and_, func, select

from core.errors import UserError
from core.store import Event, LedgerEntry
from core.store.tables import table_of
from plugins.care.escalation import RULE_ID
from plugins.care.surveys import nps_answer
from plugins.care.tickets import care_tickets

HOUR = 3600.0
CSAT_TARGET = 0.85  # SEEDS §6.1: customer satisfaction of 85% or more
ev = table_of(Event)
ledger = table_of(LedgerEntry)


@dataclass(frozen=True)
class Spread:
    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(0, None, None)
        data = np.asarray(values, dtype=float)
        return cls(len(values), float(np.median(data)), float(np.percentile(data, 90)))


@dataclass(frozen=True)
class Breaches:
    tickets: int
    response: int
    resolution: int


@dataclass(frozen=True)
class Nps:
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> float | None:
        """% promoters − % detractors (−100 … 100)."""
        if not self.answers:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.answers

    @classmethod
    def of(cls, answers: Sequence[int]) -> Nps:
        return cls(
            answers=len(answers),
            promoters=sum(1 for a in answers if a >= 9),
            passives=sum(1 for a in answers if 7 <= a <= 8),
            detractors=sum(1 for a in answers if a <= 6),
        )


@dataclass(frozen=True)
class Csat:
    answers: int
    mean: float | None
    satisfied_share: float | None  # answers of 4 or 5

    @classmethod
    def of(cls, scores: Sequence[int]) -> Csat:
        if not scores:
            return cls(0, None, None)
        return cls(
            len(scores),
            sum(scores) / len(scores),
            sum(1 for s in scores if s >= 4) / len(scores),
        )


@dataclass(frozen=True)
class ServiceReport:
    month: str
    opened: int
    still_open: int
    response_hours: Spread
    resolution_hours: Spread
    breaches: dict[str, Breaches]
    escalations: dict[int, int]
    csat: Csat
    nps: Nps = field(default_factory=lambda: Nps(0, 0, 0, 0))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["nps"]["score"] = self.nps.score
        return data


def month_bounds(month: str, zone: ZoneInfo) -> tuple[int, int]:
    """``2026-11`` → the epoch seconds of its first instant and of the next month's."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=zone)
    except ValueError:
        raise UserError(f"'{month}' is not a month; write it as 2026-11") from None
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return int(first.timestamp()), int(nxt.timestamp())


def build_report(conn: Connection, month: str, zone: ZoneInfo) -> ServiceReport:
    start, end = month_bounds(month, zone)
    t = care_tickets
    opened = and_(t.c.opened_at >= start, t.c.opened_at < end)
    rows = conn.execute(
        select(
            t.c.severity,
            t.c.opened_at,
            t.c.first_response_at,
            t.c.resolved_at,
            t.c.response_breached,
            t.c.resolution_breached,
        ).where(opened)
    ).all()
    breaches: dict[str, Breaches] = {}
    for severity in sorted({r.severity for r in rows}):
        mine = [r for r in rows if r.severity == severity]
        breaches[severity] = Breaches(
            len(mine),
            sum(1 for r in mine if r.response_breached),
            sum(1 for r in mine if r.resolution_breached),
        )
    periods = conn.execute(  # "L2#0": level 2 of episode 0
        select(ledger.c.period, func.count())
        .where(ledger.c.rule_id == RULE_ID, ledger.c.created_at >= start, ledger.c.created_at < end)
        .group_by(ledger.c.period)
    ).all()
    escalations: Counter[int] = Counter()
    for period, count in periods:
        escalations[int(period[1:].split("#")[0])] += int(count)
    in_month = and_(ev.c.type == "survey", ev.c.occurred_at >= start, ev.c.occurred_at < end)
    scores = [
        int(v) for (v,) in conn.execute(select(ev.c.value).where(in_month, ev.c.value.is_not(None)))
    ]
    answer = nps_answer()
    nps = [int(v) for (v,) in conn.execute(select(answer).where(in_month, answer.is_not(None)))]
    return ServiceReport(
        month=month,
        opened=len(rows),
        still_open=sum(1 for r in rows if r.resolved_at is None),
        response_hours=Spread.of(
            [
                (r.first_response_at - r.opened_at) / HOUR
                for r in rows
                if r.first_response_at is not None
            ]
        ),
        resolution_hours=Spread.of(
            [(r.resolved_at - r.opened_at) / HOUR for r in rows if r.resolved_at is not None]
        ),
        breaches=breaches,
        escalations=dict(sorted(escalations.items())),
        csat=Csat.of([s for s in scores if 1 <= s <= 5]),
        nps=Nps.of([a for a in nps if 0 <= a <= 10]),
    )


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def format_report(report: ServiceReport) -> str:
    lines = [
        f"service report {report.month}",
        f"tickets opened: {report.opened} (still open: {report.still_open})",
        f"first response: median {_hours(report.response_hours.median)}, "
        f"p90 {_hours(report.response_hours.p90)} ({report.response_hours.count} responded)",
        f"resolution:     median {_hours(report.resolution_hours.median)}, "
        f"p90 {_hours(report.resolution_hours.p90)} ({report.resolution_hours.count} resolved)",
        "deadlines missed by severity (tickets: response / resolution):",
    ]
    lines += [
        f"  {severity:<10} {b.tickets:>5}: {b.response} / {b.resolution}"
        for severity, b in report.breaches.items()
    ] or ["  (no tickets)"]
    levels = ", ".join(f"L{level}: {count}" for level, count in sorted(report.escalations.items()))
    lines.append(f"escalations: {levels or 'none'}")
    csat = report.csat
    mean = "—" if csat.mean is None else f"{csat.mean:.2f}"
    verdict = ""
    if csat.satisfied_share is not None:
        verdict = (
            " (target 85% met)"
            if csat.satisfied_share >= CSAT_TARGET
            else " (below the 85% target)"
        )
    lines.append(
        f"CSAT: {csat.answers} answers, mean {mean} / 5, satisfied (4–5) {_share(csat.satisfied_share)}{verdict}"
    )
    nps = report.nps
    score = "—" if nps.score is None else f"{nps.score:+.1f}"
    lines.append(
        f"NPS: {score} ({nps.answers} answers: {nps.promoters} promoters, {nps.passives} passives, "
        f"{nps.detractors} detractors)"
    )
    return "\n".join(lines)


def _previous_month(now: float, zone: ZoneInfo) -> str:
    first = dt.datetime.fromtimestamp(now, zone).date().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@click.command("service")
@click.option("--month", metavar="YYYY-MM", default=None, help="Default: the previous month.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def service_report(ctx: click.Context, month: str | None, as_json: bool) -> int:
    """Monthly service report: response and resolution times, SLA breaches, CSAT and NPS.

    Tickets are those opened in the month, as the cycles have recorded them.
    """
    app = ctx.find_root().obj.app
    zone = app.settings.zone
    chosen = month or _previous_month(time.time(), zone)
    with app.store.begin() as conn:
        report = build_report(conn, chosen, zone)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else format_report(report))
    return 0
