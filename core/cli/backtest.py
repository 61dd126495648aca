"""`patron backtest`: replay history through the daemon's code path in a scratch store."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
