"""``patron release``: let a rule held by the blast-radius guard send (or cancel it).

::

    patron release                     list held rules
    patron release winback-inactive    send what it held
    patron release winback-inactive --cancel    suppress what it held instead
"""

from __future__ import annotations

import time

import click

from core.cli.main import Context, pass_context
from core.errors import NotFound
from core.guards.blast_radius import held_firings
from core.guards.blast_radius import release as release_firings
from core.timeparse import show_instant


@click.command()
@click.argument("rule_id", required=False)
@click.option("--cancel", is_flag=True, help="Suppress the held messages instead of sending them.")
@pass_context
def release(ctx: Context, rule_id: str | None, cancel: bool) -> int:
    """Release RULE_ID's messages held by the blast-radius guard; without RULE_ID, list holds."""
    app = ctx.app
    zone = app.settings.zone
    with app.store.begin() as conn:
        if rule_id is None:
            held = held_firings(conn)
            if not held:
                click.echo("nothing is held")
            for firing in held:
                click.echo(
                    f"{firing.rule_id}  fired {show_instant(firing.fired_at, zone)}  "
                    f"{firing.pending} pending  ({firing.reason})"
                )
            return 0
        firings, messages = release_firings(conn, rule_id, int(time.time()), cancel=cancel)
    if not firings:
        raise NotFound(f"rule '{rule_id}' has nothing held (see `patron release`)")
    verb = "cancelled" if cancel else "released"
    click.echo(f"{verb} {messages} message(s) of rule '{rule_id}' ({firings} cycle(s))")
    return 0


COMMANDS = [release]
