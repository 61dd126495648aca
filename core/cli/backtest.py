"""`patron backtest`: replay history through the daemon's code path in a scratch store."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.backtest import BUCKETS, Window, compare, render, replay, scratch_copy, tally, to_csv
from core.cli.main import Context, pass_context
from core.errors import UserError
from core.timeparse import parse_instant

_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def _step(text: str) -> int:
    number, unit = text[:-1], text[-1:].lower()
    if not number.isdigit() or unit not in _UNITS or int(number) == 0:
        raise click.BadParameter(f"'{text}' is not a step: use e.g. 1d, 12h or 1w")
    return int(number) * _UNITS[unit]


@click.command()
@click.option("--from", "start", required=True, metavar="DATE", help="First cycle instant.")
@click.option("--to", "end", required=True, metavar="DATE", help="Last cycle instant (inclusive).")
@click.option("--step", default="1d", show_default=True, help="Time between cycles: 1d, 12h, 1w.")
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Rule files or folders (default: rule_paths of patron.yaml).",
)
@click.option(
    "--compare",
    "other_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Also replay these rules over the same history and show what changes.",
)
@click.option("--by", "bucket", type=click.Choice(BUCKETS), default="month", show_default=True)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the counts here.")
@pass_context
def backtest(
    ctx: Context,
    start: str,
    end: str,
    step: str,
    rule_paths: tuple[Path, ...],
    other_paths: tuple[Path, ...],
    bucket: str,
    csv_path: Path | None,
) -> int:
    """What the rules would have done from --from to --to, cycle by cycle.

    Customers and events are copied into a scratch store; the real ledger is never
    touched. Each step runs a cycle and a delivery exactly as the daemon does
    (schedules, once_per windows, stages, journeys and holdouts, consent, caps, quiet
    hours); channels record instead of sending. Prints per rule and period how many
    would have fired and what became of their messages.
    """
    app = ctx.app
    zone = app.settings.zone
    window = Window(parse_instant(start, zone), parse_instant(end, zone), _step(step))
    if window.end < window.start:
        raise UserError(f"--to {end} is before --from {start}")
    runs = [("rules", rule_paths)] + ([("compare", other_paths)] if other_paths else [])
    results = []
    for label, paths in runs:
        rules = app.load_rules(paths)
        began = time.perf_counter()
        with scratch_copy(app.store, app.settings) as scratch:

            def progress(done: int, total: int, label: str = label) -> None:
                if done == total or done % 10 == 0:
                    click.echo(f"\r{label}: cycle {done}/{total}", nl=done == total, err=True)

            replay(scratch, rules, window, progress)
            results.append(tally(scratch.store, zone, bucket))
        click.echo(
            f"{label}: {len(window.instants())} cycles in {time.perf_counter() - began:.1f} s",
            err=True,
        )
    click.echo(render(results[0]))
    if csv_path is not None:
        csv_path.write_text(to_csv(results[0]), encoding="utf-8")
        click.echo(f"counts written to {csv_path}")
    if len(results) > 1:
        click.echo("\nchanges with --compare:")
        click.echo(compare(results[0], results[1]))
    return 0


COMMANDS: list[click.Command] = [backtest]
