"""`patron schema`: JSON Schema for rule files and patron.yaml, from the registries."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
