"""`patron rules`: the rules with schedule, category, last run and counts."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
