"""Readable summaries of a cycle, a delivery run and dry-run previews."""

from __future__ import annotations

from typing import Any

import click

from core.app import App
from core.cycle import CycleSummary
from core.rules import RuleSet


def print_cycle_summary(summary: CycleSummary) -> None:
    if summary.skipped:
        click.secho(f"skipped: {summary.skipped}", fg="yellow")
        return
    width = max((len(o.rule_id) for o in summary.outcomes), default=4)
    click.echo(f"{summary.customers} customers evaluated in {summary.seconds:.2f} s")
    for stage, counts in summary.stages.items():
        shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "done"
        click.echo(f"{stage}: {shown}")
    header = f"{'rule':<{width}}  {'matched':>8}  {'new':>8}  {'already':>8}"
    click.echo(click.style(header, bold=True))
    for o in summary.outcomes:
        if not o.due:
            click.echo(f"{o.rule_id:<{width}}  {'not due':>8}")
            continue
        click.echo(f"{o.rule_id:<{width}}  {o.matched:>8}  {o.new:>8}  {o.already:>8}")
    verb = "would fire" if summary.dry_run else "fired"
    click.echo(
        f"{summary.new} new firings {verb}; {sum(o.already for o in summary.outcomes)} already fired earlier"
    )


def print_delivery_summary(delivered: Any) -> None:
    click.echo(
        f"delivered: {delivered.sent} sent, {delivered.suppressed_total} suppressed, "
        f"{delivered.failed} failed, {delivered.retried} to retry"
    )
    for reason, count in sorted(delivered.suppressed.items()):
        click.echo(f"    suppressed ({reason}): {count}")


def print_previews(app: App, rules: RuleSet, summary: CycleSummary) -> None:
    from core.preview import preview_firings

    for outcome in summary.outcomes:
        rule = rules.get(outcome.rule_id)
        if rule is None or not outcome.sample:
            continue
        click.echo(click.style(f"\n── {rule.id}: {outcome.new} would get", bold=True))
        for preview in preview_firings(
            app.store, app.registry, app.settings, app.catalog, rule, outcome.sample, summary.as_of
        ):
            click.echo(f"  {preview}")
