"""`patron explain`: why a customer did or did not get a message."""

from __future__ import annotations

import click

from core.cli.main import Context, pass_context
from core.cli.running import _as_of, as_of_option
from core.explain import explain as explain_customer
from core.explain import render_json, render_text


@click.command()
@click.argument("customer")
@as_of_option
@click.option("--rule", "rule_id", metavar="ID", default=None, help="Only this rule.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@click.option(
    "--all-features/--used-features",
    default=None,
    help="Every feature (default without --rule) or only those the shown conditions read.",
)
@pass_context
def explain(
    ctx: Context,
    customer: str,
    as_of_text: str | None,
    rule_id: str | None,
    as_json: bool,
    all_features: bool | None,
) -> int:
    """Why CUSTOMER (an external id) did or did not get each rule's messages.

    Prints the customer's feature values as of the instant, then for every rule its
    condition evaluated part by part (the parts that are not true are marked ✗) and
    what happened: fired (with each action's ledger id, channel and status: sent,
    suppressed and why, failed, waiting), already fired in its once_per window, would
    fire at the next cycle, not due, not matched or disabled; then the customer's
    journeys (holdout or treatment) and other messages. Reads only; writes nothing.
    """
    app = ctx.app
    rules = app.load_rules()
    as_of = _as_of(app, as_of_text)
    found = explain_customer(
        app.store, app.registry, app.settings, rules, customer, as_of, rule_id=rule_id
    )
    if as_json:
        click.echo(render_json(found))
    else:
        everything = all_features if all_features is not None else rule_id is None
        click.echo(render_text(found, all_features=everything))
    return 0


COMMANDS: list[click.Command] = [explain]
