"""``patron check``: validate rule files and the templates they use."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli.main import Context, pass_context


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@pass_context
def check(ctx: Context, paths: tuple[Path, ...]) -> int:
    """Validate rule files (default: rule_paths of patron.yaml) and their templates.

    Every problem of every file is printed as FILE:LINE: rule 'ID' → KEY: MESSAGE;
    the exit status is 1 if there is any error.
    """
    ruleset, problems = ctx.app.check_rules(paths)
    for problem in problems:
        click.secho(str(problem), err=True, fg="red" if problem.severity == "error" else "yellow")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        click.secho(
            f"{len(errors)} error(s) in {len({p.file for p in errors})} file(s)",
            err=True,
            bold=True,
        )
        return 1
    enabled = len(ruleset.enabled())
    click.echo(
        f"ok: {len(ruleset.rules)} rules ({enabled} enabled) in {len(ruleset.files)} file(s)"
    )
    return 0


COMMANDS = [check]
