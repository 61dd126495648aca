"""``patron demo``: a synthetic customer base, imported and run through one cycle."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import click
import yaml

from core.app import build_app
from core.cli.data import _progress, _report
from core.cli.main import Context, pass_context
from core.cli.summary import print_cycle_summary, print_delivery_summary
from core.config import Settings
from core.cycle import run_cycle
from core.delivery import deliver
from core.demo import write_demo_files
from core.errors import UserError
from core.importing import import_customers, import_events
from core.timeparse import parse_instant, show_instant


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo"),
    show_default=True,
    help="Where the demo store, data files and outbox go (rebuilt each time).",
)
@click.option(
    "--customers", default=3000, show_default=True, help="Size of the synthetic customer base."
)
@click.option(
    "--seed", default=7, show_default=True, help="Random seed (same seed, same customers)."
)
@click.option(
    "--as-of", "as_of_text", default=None, metavar="WHEN", help="The demo's 'now'. Default: now."
)
@pass_context
def demo(ctx: Context, directory: Path, customers: int, seed: int, as_of_text: str | None) -> int:
    """Build a demo store of synthetic customers, run one cycle and write the outbox.

    Uses the rules and templates of the current directory (the patron checkout):
    rules/ and templates/.
    """
    base = ctx.app.settings
    if not any(d.exists() for d in base.rule_dirs):
        raise UserError(
            f"no rule folder found ({', '.join(str(d) for d in base.rule_dirs)}); "
            "run the demo from the patron checkout, or set rule_paths in patron.yaml"
        )
    directory = directory.resolve()
    if directory.exists():
        for leftover in ("patron.db", "patron.db-wal", "patron.db-shm"):
            (directory / leftover).unlink(missing_ok=True)
        shutil.rmtree(directory / "outbox", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings.model_validate(
        {
            **base.model_dump(exclude={"base_dir"}),
            "database_url": f"sqlite:///{directory / 'patron.db'}",
            "outbox_dir": directory / "outbox",
            "rule_paths": base.rule_dirs,
            "template_paths": base.template_dirs,
            "base_dir": base.base_dir,
            "staff": base.model_dump()["staff"] or DEMO_STAFF,  # the shipped ladder's roles
        }
    )
    _write_config(directory, settings)
    app = build_app(settings=settings, pm=ctx.app.pm)
    as_of = parse_instant(as_of_text, settings.zone) if as_of_text else int(time.time())
    when = dt.datetime.fromtimestamp(as_of, settings.zone)

    click.secho(
        f"1. generating {customers} customers and their history up to {when:%Y-%m-%d %H:%M}",
        bold=True,
    )
    customers_csv, events_csv = write_demo_files(
        directory, customers=customers, seed=seed, as_of=when
    )

    click.secho(f"2. importing into {directory / 'patron.db'}", bold=True)
    for path, kind in ((customers_csv, "customers"), (events_csv, "events")):
        with _progress(path, kind) as progress:
            if kind == "customers":
                report = import_customers(app.store, path, settings, progress=progress)
            else:
                report = import_events(
                    app.store, path, settings, app.registry.event_types.names(), progress=progress
                )
        _report(report)

    click.secho("3. checking the rules", bold=True)
    rules = app.load_rules()
    click.echo(f"{len(rules.enabled())} enabled rules in {len(rules.files)} files")

    click.secho(f"4. running one cycle as of {show_instant(as_of, settings.zone)}", bold=True)
    summary = run_cycle(app.store, app.registry, settings, rules, as_of, force=True, pm=app.pm)
    print_cycle_summary(summary)

    click.secho("5. delivering to the file outbox", bold=True)
    delivered = deliver(
        app.store,
        app.registry,
        settings,
        app.catalog,
        now=as_of,
        rule_descriptions={r.id: r.description for r in rules.rules},
    )
    print_delivery_summary(delivered)
    files = sorted(settings.outbox.glob("*.txt"))
    click.echo(f"{len(files)} messages in {settings.outbox}")
    if files:
        click.secho(f"\n── {files[0].name}", bold=True)
        click.echo(files[0].read_text(encoding="utf-8"))
    app.close()
    click.echo(f"\nexplore it: patron -c {directory / 'patron.yaml'} dry-run --as-of 2026-12-24")
    return 0


# Staff roles the shipped escalation ladder (rules/service.yaml) sends tasks to.
DEMO_STAFF = {
    "service_desk": {"name": "客服组", "email": "service@example.com"},
    "supervisor": {"name": "客服主管", "email": "service-lead@example.com"},
    "manager": {"name": "客服经理", "email": "service-manager@example.com"},
}


def _write_config(directory: Path, settings: Settings) -> None:
    """A patron.yaml for the demo store, so every other command can be tried on it."""

    def rel(path: Path) -> str:
        return os.path.relpath(path.resolve(), directory)

    config = {
        "database_url": "sqlite:///patron.db",
        "timezone": settings.timezone,
        "default_locale": settings.default_locale,
        "currency": settings.currency,
        "rule_paths": [rel(p) for p in settings.rule_dirs],
        "template_paths": [rel(p) for p in settings.template_dirs],
        "outbox_dir": "outbox",
        "staff": {
            role: member.model_dump(exclude_none=True) for role, member in settings.staff.items()
        },
    }
    (directory / "patron.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False), encoding="utf-8"
    )


COMMANDS = [demo]
