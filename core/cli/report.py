"""`patron report`: what the rules did over a period; plugins add subcommands."""

from __future__ import annotations

import click


@click.group()
def report() -> None:
    """Reports over a period (plugins add their own: journeys, service ...)."""
