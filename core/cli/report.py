"""`patron report`: what the rules did over a period; plugins add subcommands."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.cli.main import Context, pass_context
from core.reporting import build_report, render_html, render_json, render_text
from core.timeparse import parse_instant

DAY = 86400


@click.group(invoke_without_command=True)
@click.option("--from", "start", metavar="DATE", help="Start (default: 30 days before --to).")
@click.option("--to", "end", metavar="DATE", help="End (default: now).")
@click.option("--conversion-days", default=7, show_default=True, help="Purchase window.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML report with charts.",
)
@click.pass_context
def report(
    click_ctx: click.Context,
    start: str | None,
    end: str | None,
    conversion_days: int,
    as_json: bool,
    html_path: Path | None,
) -> int:
    """What the rules did over a period: per rule and channel, fired, sent, suppressed
    (by reason), failed, pending and conversions; --html writes a page with charts
    (sends per day, suppression reasons, journey funnels). Plugins add their own
    reports as subcommands (journeys, service ...)."""
    if click_ctx.invoked_subcommand is not None:
        return 0
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    app = ctx.app
    zone = app.settings.zone
    until = parse_instant(end, zone) if end else int(time.time())
    since = parse_instant(start, zone) if start else until - 30 * DAY
    with app.store.engine.connect() as conn:
        found = build_report(conn, since, until, zone, conversion_days)
    click.echo(render_json(found) if as_json else render_text(found, zone))
    if html_path is not None:
        html_path.write_text(render_html(found, zone), encoding="utf-8")
        click.echo(f"HTML report written to {html_path}", err=as_json)
    return 0


__all__ = ["pass_context", "report"]
