"""`patron rules`: the rules with schedule, category, last run and counts."""

from __future__ import annotations

import dataclasses
import json
import time

import click

from core.cli.main import Context, pass_context
from core.rules_overview import RECENT_DAYS, STATUSES, overview
from core.timeparse import show_instant


@click.command(name="rules")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@pass_context
def rules_command(ctx: Context, as_json: bool) -> int:
    """List the rules: where they are, schedule, category, enabled, last run, next due, and
    what the ledger holds for each (customers fired for, ever and in the last 30 days;
    action rows by status)."""
    app = ctx.app
    rules = app.load_rules()
    now = int(time.time())
    lines = overview(app.store, rules, now)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(line) for line in lines], indent=2))
        return 0
    zone = app.settings.zone
    width = max((len(line.id) for line in lines), default=4)
    header = (
        f"{'rule':<{width}}  {'on':<3} {'category':<13} {'schedule':<14} {'last run':<16} "
        f"{'next due':<16} {'fired':>7} {f'{RECENT_DAYS}d':>6}  "
        + " ".join(f"{s:>10}" for s in STATUSES)
    )
    click.secho(header, bold=True)
    for line in lines:
        last = show_instant(line.last_run, zone)[:16] if line.last_run else "never"
        upcoming = show_instant(line.next_due, zone)[:16] if line.next_due else "-"
        click.echo(
            f"{line.id:<{width}}  {'yes' if line.enabled else 'no':<3} {line.category:<13} "
            f"{line.schedule:<14} {last:<16} {upcoming:<16} {line.firings:>7} "
            f"{line.firings_recent:>6}  " + " ".join(f"{line.by_status[s]:>10}" for s in STATUSES)
        )
    click.echo(f"{len(lines)} rules in {len(rules.files)} file(s); where: patron rules --json")
    return 0


COMMANDS: list[click.Command] = [rules_command]
