"""``patron run --once`` and ``patron dry-run``: a cycle now or as of any instant."""

from __future__ import annotations

import time

import click

from core.app import App
from core.cli.main import Context, pass_context
from core.cli.summary import print_cycle_summary, print_delivery_summary, print_previews
from core.cycle import run_cycle
from core.delivery import deliver
from core.timeparse import parse_instant, show_instant

as_of_option = click.option(
    "--as-of",
    "as_of_text",
    metavar="WHEN",
    default=None,
    help="Evaluate as of this instant (2026-11-23, 2026-11-23T09:00, with or without offset). Default: now.",
)


def _as_of(app: App, text: str | None) -> int:
    return parse_instant(text, app.settings.zone) if text else int(time.time())


@click.command()
@click.option(
    "--once",
    is_flag=True,
    required=True,
    help="Run one cycle and exit (the daemon runs on schedules).",
)
@as_of_option
@click.option("--all", "force", is_flag=True, help="Evaluate every enabled rule, due or not.")
@click.option("--rule", "only", multiple=True, metavar="ID", help="Only this rule (repeatable).")
@click.option("--no-deliver", is_flag=True, help="Write the ledger but send nothing yet.")
@pass_context
def run(
    ctx: Context,
    once: bool,
    as_of_text: str | None,
    force: bool,
    only: tuple[str, ...],
    no_deliver: bool,
) -> int:
    """Evaluate the due rules, record firings in the ledger, then deliver them."""
    app = ctx.app
    rules = app.load_rules()
    as_of = _as_of(app, as_of_text)
    click.echo(f"cycle as of {show_instant(as_of, app.settings.zone)}")
    summary = run_cycle(
        app.store, app.registry, app.settings, rules, as_of, force=force, only=only, pm=app.pm
    )
    print_cycle_summary(summary)
    if summary.skipped:
        return 0
    if not no_deliver:
        delivered = deliver(
            app.store,
            app.registry,
            app.settings,
            app.catalog,
            now=max(as_of, int(time.time())),
            rule_descriptions={r.id: r.description for r in rules.rules},
        )
        print_delivery_summary(delivered)
    return 0


@click.command(name="dry-run")
@as_of_option
@click.option(
    "--due-only",
    is_flag=True,
    help="Only rules whose schedule is due (default: every enabled rule).",
)
@click.option("--rule", "only", multiple=True, metavar="ID", help="Only this rule (repeatable).")
@click.option("--limit", default=5, show_default=True, help="Messages to render per rule.")
@pass_context
def dry_run(
    ctx: Context, as_of_text: str | None, due_only: bool, only: tuple[str, ...], limit: int
) -> int:
    """Evaluate and render as of an instant; write nothing and send nothing.

    Lists, per rule, how many customers match, how many would get a new message, and
    renders the first few messages exactly as they would be sent.
    """
    app = ctx.app
    rules = app.load_rules()
    as_of = _as_of(app, as_of_text)
    click.echo(
        f"dry run as of {show_instant(as_of, app.settings.zone)} (nothing is written or sent)"
    )
    summary = run_cycle(
        app.store,
        app.registry,
        app.settings,
        rules,
        as_of,
        dry_run=True,
        force=not due_only,
        only=only,
        sample_size=limit,
    )
    print_cycle_summary(summary)
    print_previews(app, rules, summary)
    return 0


COMMANDS = [run, dry_run]
