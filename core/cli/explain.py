"""`patron explain`: why a customer did or did not get a message."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
