"""`patron test`: rule unit tests in YAML with simulated time."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
