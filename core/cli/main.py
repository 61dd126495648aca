"""Entry point of the ``patron`` command and its error handling.

Operator errors (:class:`core.errors.UserError`) print plainly, without a
traceback, and exit with status 1; plugin errors exit with 3. ``--debug`` shows
tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pluggy

from core.app import App, build_app
from core.errors import PluginError, ProblemsError, UserError
from core.plugins import make_plugin_manager


class Context:
    """Lazily built application, shared by the subcommands."""

    def __init__(self, config: Path | None, pm: pluggy.PluginManager | None = None) -> None:
        self.config = config
        self.pm = pm
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = build_app(self.config, pm=self.pm)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Configuration file (default: ./patron.yaml if present).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="patron")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, debug: bool) -> None:
    """patron: rules-based customer care.

    \b
    Typical first steps:
      patron demo                      build a demo store and run one cycle
      patron check                     validate rules/ and templates/
      patron import customers FILE     load customers (CSV or JSON Lines)
      patron import events FILE        load events (CSV, JSON Lines, CDNOW)
      patron dry-run --as-of 2026-12-01   who would get what, writing nothing
      patron run --once                evaluate due rules, then deliver
    """
    ctx.obj = Context(config, _plugin_manager)
    ctx.meta["debug"] = debug
    ctx.call_on_close(ctx.obj.close)


_plugin_manager: pluggy.PluginManager | None = None


def _register_commands(pm: pluggy.PluginManager) -> None:
    """Core commands, then every plugin's (``patron_commands``, ``patron_report_commands``)."""
    from core.cli import (
        backtest,
        check,
        data,
        demo,
        explain,
        info,
        kept,
        render,
        rules_list,
        ruletest,
        running,
        schema,
    )
    from core.cli.report import report

    modules = (check, data, info, running, demo, rules_list, explain, render)
    for module in (*modules, ruletest, backtest, schema, kept):
        for command in module.COMMANDS:
            cli.add_command(command)
    for commands in pm.hook.patron_commands():
        for command in commands:
            cli.add_command(command)
    for commands in pm.hook.patron_report_commands():
        for command in commands:
            report.add_command(command)
    if report.commands:
        cli.add_command(report)


def main(argv: list[str] | None = None) -> int:
    global _plugin_manager
    try:
        _plugin_manager = make_plugin_manager()
        _register_commands(_plugin_manager)
        result = cli.main(args=argv, prog_name="patron", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ProblemsError as exc:
        for problem in exc.problems:
            click.secho(
                str(problem), err=True, fg="red" if problem.severity == "error" else "yellow"
            )
        click.secho(exc.summary, err=True, bold=True)
        return 1
    except UserError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        return 1
    except PluginError as exc:
        if "--debug" in (argv or sys.argv):
            raise
        click.secho(f"plugin error: {exc}", err=True, fg="red")
        return 3
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
