"""``patron init`` and ``patron import``: the store and what goes into it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from core.cli.main import Context, pass_context
from core.importing import ImportReport, import_customers, import_events
from core.store.engine import SCHEMA_VERSION, safe_url

SHOWN_PROBLEMS = 50


@click.command()
@pass_context
def init(ctx: Context) -> None:
    """Create the store (or upgrade its schema) and the outbox directory."""
    store = ctx.app.store  # opening creates / upgrades
    ctx.app.settings.outbox.mkdir(parents=True, exist_ok=True)
    click.echo(f"store ready: {safe_url(store.url)} (schema version {SCHEMA_VERSION})")
    click.echo(f"outbox: {ctx.app.settings.outbox}")


@contextmanager
def _progress(path: Path, label: str) -> Iterator[Callable[[int], None]]:
    size = path.stat().st_size
    with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
        done = 0

        def advance(bytes_read: int) -> None:
            nonlocal done
            bar.update(max(0, bytes_read - done))
            done = max(done, bytes_read)

        yield advance


def _report(report: ImportReport) -> int:
    click.echo(
        f"{report.path}: {report.rows_read} rows read, {report.inserted} inserted, "
        f"{report.updated} updated, {report.duplicates} already present, "
        f"{report.rejected_count} rejected ({report.elapsed:.1f} s)"
    )
    for problem in report.rejected[:SHOWN_PROBLEMS]:
        click.secho(str(problem), err=True, fg="red")
    if report.rejected_count > SHOWN_PROBLEMS:
        click.secho(
            f"... and {report.rejected_count - SHOWN_PROBLEMS} more rejected rows",
            err=True,
            fg="red",
        )
    if report.rejected_count:
        click.secho(
            "the good rows were stored; fix the rejected rows and import the file again", err=True
        )
        return 1
    return 0


@click.group(name="import")
def import_group() -> None:
    """Load customers or events from CSV, JSON Lines or the CDNOW format.

    Re-importing a file adds nothing twice. Rejected rows are listed with their
    line numbers; the good rows are kept.
    """


@import_group.command(name="customers")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: from the extension.",
)
@pass_context
def import_customers_cmd(ctx: Context, file: Path, fmt: str | None) -> int:
    """Create or update customers (matched by external_id)."""
    with _progress(file, "customers") as progress:
        report = import_customers(ctx.app.store, file, ctx.app.settings, fmt=fmt, progress=progress)
    return _report(report)


@import_group.command(name="events")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "cdnow"]),
    default=None,
    help="Default: from the extension.",
)
@pass_context
def import_events_cmd(ctx: Context, file: Path, fmt: str | None) -> int:
    """Append events (purchases, complaints, surveys ...) to the store."""
    app = ctx.app
    with _progress(file, "events") as progress:
        report = import_events(
            app.store,
            file,
            app.settings,
            app.registry.event_types.names(),
            fmt=fmt,
            progress=progress,
        )
    return _report(report)


COMMANDS = [init, import_group]
