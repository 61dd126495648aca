"""The care cycle stage: tickets, SLA deadlines and escalations, before rules run.

Runs after every feature set (so a profile's ``when: tier == "vip"`` sees this cycle's
tier) and in the cycle's transaction (a dry run rolls it back with everything else):

1. :func:`plugins.care.sla.refresh_tickets` brings ``care_tickets`` up to the cycle's
   instant (only tickets that may have changed, looking only at the customers who may
   have such tickets: :mod:`plugins.care.ticket_changes`);
2. :func:`plugins.care.escalation.escalate` writes the ledger rows of due escalation levels;
3. the ticket feature columns of the cycle's feature table are refreshed for the
   customers whose tickets were recomputed, so rules in this cycle see the new state.

Without an ``sla:`` section tickets are still tracked, without deadlines or escalations.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Table, select, update

from core.expr import feature_names, parse
from core.vocabulary import CycleStage, StageContext
from plugins.care.escalation import escalate
from plugins.care.sla import SlaRun, refresh_tickets, work_table
from plugins.care.sla_model import SlaSection, TicketFilter
from plugins.care.ticket_changes import customers_to_refresh, record_refresh
from plugins.care.ticket_features import TicketFeatures

SECTION = "sla"


def section_of(rules: Any) -> SlaSection:
    """The validated ``sla:`` section, or an empty one (no profiles, no ladder)."""
    found = rules.sections.get(SECTION) if rules is not None else None
    if found is not None:
        value: SlaSection = found.value
        return value
    return SlaSection.model_construct(calendars={}, profiles=[], escalations=None)


def _refresh_features(ctx: StageContext) -> None:
    features: Table = ctx.features
    ticket_set = TicketFeatures()
    names = [f.name for f in ticket_set.features if f.name in features.c]
    if not names:
        return
    # The customers whose tickets the refresh looked at, chosen inside the set's
    # per-customer subqueries: not every stored ticket ranked again for them.
    work = work_table()
    refreshed = dataclasses.replace(ctx.ctx, only=select(work.c.customer_id).distinct())
    fresh = ticket_set.select(refreshed).subquery("fresh_tickets")
    ctx.conn.execute(
        update(features)
        .values({name: fresh.c[name] for name in names})
        .where(features.c.customer_id == fresh.c.customer_id)
    )


def run_care_stage(ctx: StageContext) -> dict[str, int]:
    run = SlaRun(
        section=section_of(ctx.rules),
        features=ctx.features,
        as_of=ctx.ctx.as_of,
        default_zone=ctx.ctx.settings.timezone,
    )
    changed = refresh_tickets(ctx.conn, run, customers_to_refresh(ctx.conn, ctx.ctx))
    record_refresh(ctx.conn, ctx.ctx)
    summary = {"tickets": changed}
    if changed:
        fired = escalate(ctx.conn, run, ctx.cycle_id)
        summary.update({f"escalations_l{level}": count for level, count in fired.items()})
        _refresh_features(ctx)
    return summary


def care_reads(rules: Any) -> set[str]:
    """What the stage reads in the feature table: the features named by the ``when`` of
    every SLA profile, escalation level and start entry. (It refreshes the ticket
    features only where the table has them.)"""
    section = section_of(rules)
    filters: list[TicketFilter] = list(section.profiles)
    if section.escalations is not None:
        filters += [*section.escalations.levels, *section.escalations.start]
    names: set[str] = set()
    for flt in filters:
        if flt.when:
            names |= feature_names(parse(flt.when))
    return names


CARE_STAGE = CycleStage(
    name="care-sla",
    run=run_care_stage,
    # A profile's `when: tier == "vip"` sees the tier assigned in this same cycle.
    after=("tiering", "churn"),
    description="Complaint tickets: SLA deadlines in business hours, escalation ladder.",
    reads=care_reads,
)
