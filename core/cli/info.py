"""``patron plugins`` and ``patron features``: what the installed plugins provide."""

from __future__ import annotations

import click

from core.cli.main import Context, pass_context
from core.plugins import plugin_names


@click.command()
@pass_context
def plugins(ctx: Context) -> None:
    """List installed plugins and the vocabulary each contributes."""
    reg = ctx.app.registry
    for name, origin in plugin_names(ctx.app.pm):
        contributed = []
        for kind, named in (
            ("features", reg.features),
            ("actions", reg.actions),
            ("channels", reg.channels),
            ("event types", reg.event_types),
        ):
            mine = sorted(n for n, owner in named.owners.items() if owner == name)
            if mine:
                contributed.append(f"{kind}: {', '.join(mine)}")
        click.echo(click.style(name, bold=True) + f"  ({origin})")
        for line in contributed or ["(nothing registered yet)"]:
            click.echo(f"    {line}")


@click.command()
@pass_context
def features(ctx: Context) -> None:
    """List the features rule conditions and templates can use."""
    reg = ctx.app.registry
    width = max((len(n) for n in reg.features.names()), default=10)
    for name in reg.features.names():
        feature = reg.features[name]
        unit = f" [{feature.unit}]" if feature.unit else ""
        click.echo(f"{name:<{width}}  {feature.type.value:<7}  {feature.description}{unit}")


COMMANDS = [plugins, features]
