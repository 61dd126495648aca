"""`patron render`: preview a template as a customer would receive it."""

from __future__ import annotations

import click

from core.cli.main import Context, pass_context
from core.cli.running import _as_of, as_of_option
from core.message_preview import preview


@click.command()
@click.argument("template")
@click.option("--customer", "customer", required=True, metavar="ID", help="External id.")
@click.option("--channel", default=None, metavar="NAME", help="Show it as this channel sends it.")
@click.option("--locale", default=None, help="Render in this locale instead of the customer's.")
@click.option("--rule", "rule_id", default=None, metavar="ID", help="Render as sent by this rule.")
@as_of_option
@pass_context
def render(
    ctx: Context,
    template: str,
    customer: str,
    channel: str | None,
    locale: str | None,
    rule_id: str | None,
    as_of_text: str | None,
) -> int:
    """Render TEMPLATE (e.g. care/birthday) for one customer, with their features as of
    the instant: e-mail with headers and parts, webhook and SMS as the JSON they post.
    Writes and sends nothing."""
    app = ctx.app
    text = preview(
        app,
        template,
        customer,
        _as_of(app, as_of_text),
        channel_name=channel,
        locale=locale,
        rule_id=rule_id,
    )
    click.echo(text)
    return 0


COMMANDS: list[click.Command] = [render]
