"""``patron daemon``: run rules on their schedules and deliver continuously.

::

    patron daemon                      run until SIGTERM/SIGINT (systemd: see docs/deployment.md)
    patron daemon --check-config       check patron.yaml, channels, secrets, staff, rules; exit
    patron daemon --log-format text    human-readable logs (default: one JSON object per line)
"""

from __future__ import annotations

import asyncio

import click

from core.cli.main import Context, pass_context


@click.command()
@click.option(
    "--check-config", is_flag=True, help="Check the configuration and exit (0 when usable)."
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default=None,
    help="Override daemon.log_format.",
)
@pass_context
def daemon(ctx: Context, check_config: bool, log_format: str | None) -> int:
    """Evaluate each rule on its schedule, deliver continuously, reload edited rules.

    Stops cleanly on SIGTERM or SIGINT: messages in flight finish, the rest wait for the
    next start. Several daemons may share one PostgreSQL store.
    """
    app = ctx.app
    if check_config:
        from core.daemon.check import check_config as run_check

        findings = run_check(app)
        for finding in findings:
            color = {"ok": "green", "warning": "yellow", "error": "red"}[finding.level]
            click.secho(str(finding), fg=color, err=finding.level != "ok")
        errors = sum(1 for f in findings if f.level == "error")
        if errors:
            click.secho(
                f"{errors} error(s): the daemon would not run as configured", err=True, bold=True
            )
            return 1
        click.echo("configuration ok")
        return 0
    from core.daemon.logs import setup_logging
    from core.daemon.runner import run_daemon

    setup_logging(log_format or app.settings.daemon.log_format)
    return asyncio.run(run_daemon(app))


COMMANDS = [daemon]
