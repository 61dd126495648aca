"""`patron test`: rule unit tests in YAML with simulated time."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli.main import Context, pass_context
from core.rules.load import is_rule_test
from core.ruletest import FileResult, run_file


def test_files(paths: tuple[Path, ...], default: list[Path]) -> list[Path]:
    """Every ``*.test.yaml`` under the given files and folders (default: the rule folders)."""
    found: list[Path] = []
    for path in paths or tuple(default):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_rule_test(p)))
        elif path.is_file():
            found.append(path)
    return list(dict.fromkeys(found))


@click.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@pass_context
def ruletest(ctx: Context, paths: tuple[Path, ...]) -> int:
    """Run rule tests (*.test.yaml) under PATHS (default: the rule folders).

    \b
    Each file sets up customers and events in a scratch store, then runs a cycle and a
    delivery at each step's instant (channels record instead of sending) and checks
    which rules fire for whom, what the messages say and what is suppressed and why.
    See docs/rule-tests.md.
    """
    settings = ctx.app.settings
    files = test_files(paths, settings.rule_dirs)
    if not files:
        click.secho("no rule tests (*.test.yaml) found", fg="yellow")
        return 1
    results = [run_file(path, settings) for path in files]
    for result in results:
        _print(result)
    failed = [r for r in results if not r.ok]
    steps = sum(r.steps for r in results)
    checks = sum(r.checks for r in results)
    if failed:
        click.secho(f"FAILED: {len(failed)} of {len(results)} test file(s)", fg="red", bold=True)
        return 1
    click.secho(f"ok: {len(results)} test file(s), {steps} steps, {checks} checks", fg="green")
    return 0


def _print(result: FileResult) -> None:
    for problem in result.problems:
        click.secho(str(problem), fg="red", err=True)
    for failure in result.failures:
        click.secho(f"{result.path}:{failure.line}: [{failure.step}] {failure.message}", fg="red")
    if result.ok:
        click.echo(f"{result.path}: ok ({result.steps} steps, {result.checks} checks)")


COMMANDS: list[click.Command] = [ruletest]
