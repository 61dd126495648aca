"""``patron report journeys``: did each journey work? Treatment against holdout.

Per journey: customers enrolled, split into the treatment and the holdout arm;
conversions (``exit_when`` held) and the conversion rate of each arm; the uplift
(treatment rate − holdout rate) with a 95% confidence interval (:mod:`core.journeys.uplift`);
and revenue per enrolled customer of each arm — purchases minus refunds from enrolling
until the enrollment ended (or the report's instant).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import click
from sqlalchemy import Connection, and_, case, func, select

from core.cli.main import Context, pass_context
from core.journeys.tables import Arm, EnrollmentStatus, enrollments
from core.journeys.uplift import Uplift, uplift
from core.store.tables import Event, table_of
from core.templates import format_money
from core.timeparse import parse_instant, show_instant

events = table_of(Event)


@dataclass
class ArmStats:
    enrolled: int = 0
    converted: int = 0
    revenue: int = 0  # minor units

    @property
    def rate(self) -> float | None:
        return self.converted / self.enrolled if self.enrolled else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue / self.enrolled if self.enrolled else None


@dataclass
class JourneyStats:
    journey_id: str
    arms: dict[str, ArmStats] = field(
        default_factory=lambda: {Arm.TREATMENT.value: ArmStats(), Arm.HOLDOUT.value: ArmStats()}
    )
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def enrolled(self) -> int:
        return sum(a.enrolled for a in self.arms.values())

    @property
    def uplift(self) -> Uplift | None:
        t, h = self.arms[Arm.TREATMENT.value], self.arms[Arm.HOLDOUT.value]
        return uplift(t.converted, t.enrolled, h.converted, h.enrolled)


def journey_stats(
    conn: Connection, as_of: int, since: int | None = None, only: tuple[str, ...] = ()
) -> list[JourneyStats]:
    """Enrollments made up to ``as_of`` (from ``since``), aggregated per journey and arm."""
    e = enrollments
    until = func.coalesce(e.c.ended_at, as_of)
    money = events.c.type.in_(["purchase", "refund"])
    amount = func.coalesce(events.c.amount, 0)
    signed = case((events.c.type == "refund", -amount), (money, amount), else_=0)
    window = and_(
        events.c.customer_id == e.c.customer_id,
        events.c.occurred_at > e.c.enrolled_at,
        events.c.occurred_at <= until,
        events.c.occurred_at <= as_of,
        money,
    )
    scope = [e.c.enrolled_at <= as_of]
    if since is not None:
        scope.append(e.c.enrolled_at >= since)
    if only:
        scope.append(e.c.journey_id.in_(only))
    revenue = (
        select(e.c.id, func.coalesce(func.sum(signed), 0).label("revenue"))
        .select_from(e.outerjoin(events, window))
        .where(*scope)
        .group_by(e.c.id)
        .subquery("revenue")
    )
    converted = and_(e.c.status == EnrollmentStatus.CONVERTED.value, e.c.ended_at <= as_of)
    query = (
        select(
            e.c.journey_id,
            e.c.arm,
            e.c.status,
            func.count(),
            func.sum(case((converted, 1), else_=0)),
            func.sum(revenue.c.revenue),
        )
        .select_from(e.join(revenue, revenue.c.id == e.c.id))
        .group_by(e.c.journey_id, e.c.arm, e.c.status)
        .order_by(e.c.journey_id)
    )
    found: dict[str, JourneyStats] = {}
    for journey_id, arm, status, count, conversions, money_in in conn.execute(query):
        stats = found.setdefault(journey_id, JourneyStats(journey_id))
        bucket = stats.arms.setdefault(arm, ArmStats())
        bucket.enrolled += int(count)
        bucket.converted += int(conversions or 0)
        bucket.revenue += int(money_in or 0)
        stats.statuses[status] = stats.statuses.get(status, 0) + int(count)
    return list(found.values())


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render(stats: list[JourneyStats], currency: str) -> list[str]:
    """The report as lines of text."""
    lines: list[str] = []
    for s in stats:
        states = ", ".join(f"{k} {v}" for k, v in sorted(s.statuses.items()))
        lines.append(f"journey {s.journey_id}: {s.enrolled} enrolled ({states})")
        lines.append(
            f"  {'group':<10} {'enrolled':>9} {'converted':>10} {'rate':>7}  revenue/customer"
        )
        for name, arm in s.arms.items():
            per = arm.revenue_per_customer
            shown = "-" if per is None else format_money(round(per), currency)
            lines.append(
                f"  {name:<10} {arm.enrolled:>9} {arm.converted:>10} {_percent(arm.rate):>7}  {shown}"
            )
        lift = s.uplift
        if lift is None:
            lines.append("  uplift: needs customers in both groups")
        else:
            lines.append(
                f"  uplift: {lift.difference * 100:+.1f} pp "
                f"(95% CI {lift.low * 100:+.1f} to {lift.high * 100:+.1f} pp)"
            )
    return lines


def as_json(stats: list[JourneyStats]) -> list[dict[str, Any]]:
    out = []
    for s in stats:
        lift = s.uplift
        out.append(
            {
                "journey": s.journey_id,
                "enrolled": s.enrolled,
                "statuses": s.statuses,
                "groups": {
                    name: {
                        **asdict(arm),
                        "rate": arm.rate,
                        "revenue_per_customer": arm.revenue_per_customer,
                    }
                    for name, arm in s.arms.items()
                },
                "uplift": None if lift is None else asdict(lift),
            }
        )
    return out


@click.command(name="journeys")
@click.option(
    "--journey", "only", multiple=True, metavar="ID", help="Only this journey (repeatable)."
)
@click.option("--since", metavar="DATE", default=None, help="Only enrollments from this date on.")
@click.option(
    "--as-of", "as_of_text", metavar="WHEN", default=None, help="Report as of (default: now)."
)
@click.option("--json", "json_output", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def journeys_report(
    ctx: Context,
    only: tuple[str, ...],
    since: str | None,
    as_of_text: str | None,
    json_output: bool,
) -> int:
    """Per journey: enrolled, treatment vs holdout, conversions, uplift with a 95% CI, revenue."""
    app = ctx.app
    zone = app.settings.zone
    as_of = parse_instant(as_of_text, zone) if as_of_text else int(time.time())
    start = parse_instant(since, zone) if since else None
    with app.store.begin() as conn:
        stats = journey_stats(conn, as_of, start, only)
    if json_output:
        click.echo(json.dumps(as_json(stats), indent=2, ensure_ascii=False))
        return 0
    click.echo(f"journeys as of {show_instant(as_of, zone)}")
    if not stats:
        click.echo("no enrollments yet")
    for line in render(stats, app.settings.currency):
        click.echo(line)
    return 0


__all__ = ["ArmStats", "JourneyStats", "journey_stats", "journeys_report", "render"]
