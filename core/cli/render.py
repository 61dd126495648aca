"""`patron render`: preview a template as a customer would receive it."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
