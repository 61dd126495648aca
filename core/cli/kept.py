"""``patron kept``: what cycles keep between runs, and making the next cycle rebuild it."""

from __future__ import annotations

import datetime as dt

import click

from core.cli.main import Context, pass_context
from core.errors import UserError
from core.kept_sets import forget_states, kept_states
from core.suggest import did_you_mean


@click.group()
def kept() -> None:
    """What cycles keep between runs (feature sets over events, the SLA refresh,
    each customer's current tier).

    A cycle recomputes only the customers whose kept rows changed. Events are
    append-only; after events were edited or deleted by hand, run
    `patron kept rebuild` so the next cycle computes everything in full.
    """


NOTHING_KEPT = "nothing is kept yet: the next cycle computes everything in full"


@kept.command("list")
@pass_context
def list_kept(ctx: Context) -> None:
    """List what is kept: name, the instant it stands at, the last event it includes."""
    with ctx.app.store.begin() as conn:
        rows = kept_states(conn)
    if not rows:
        click.echo(NOTHING_KEPT)
        return
    zone = ctx.app.settings.zone
    width = max(len(row.name) for row in rows)
    for row in rows:
        when = dt.datetime.fromtimestamp(row.as_of, zone).isoformat(timespec="minutes")
        click.echo(f"{row.name:<{width}}  as of {when}  events up to id {row.watermark}")


@kept.command("rebuild")
@click.argument("names", nargs=-1)
@pass_context
def rebuild(ctx: Context, names: tuple[str, ...]) -> None:
    """Make the next cycle compute NAMES (default: everything kept) in full.

    Waits for a running cycle on PostgreSQL. Nothing else changes: the kept rows are
    replaced by the next cycle, in its own transaction.
    """
    with ctx.app.store.begin() as conn:
        forgotten = forget_states(conn, names)
        unknown = [name for name in names if name not in forgotten]
        if unknown:  # raised inside the transaction: nothing is forgotten
            known = [row.name for row in kept_states(conn)] + forgotten
            raise UserError(
                f"nothing is kept under '{unknown[0]}'{did_you_mean(unknown[0], known)}; "
                "`patron kept list` shows what is"
            )
    click.echo(
        f"the next cycle computes in full: {', '.join(forgotten)}" if forgotten else NOTHING_KEPT
    )


COMMANDS = [kept]
