"""``patron tasks``: the staff tasks rules created (``send: {channel: task}``).

::

    patron tasks                       open tasks, most urgent first
    patron tasks --assignee supervisor
    patron tasks --all                 done ones too
    patron tasks done 12 --note "called, refund agreed"
"""

from __future__ import annotations

import time

import click
from sqlalchemy import select, update

from core.channels.task import StaffTask
from core.cli.main import Context, pass_context
from core.errors import NotFound
from core.store import Customer
from core.store.tables import table_of
from core.timeparse import show_instant

tasks_table = table_of(StaffTask)
customers = table_of(Customer)


@click.group(invoke_without_command=True)
@click.option("--assignee", default=None, help="Only tasks of this role or account manager.")
@click.option("--all", "show_all", is_flag=True, help="Include tasks already done.")
@pass_context
@click.pass_context
def tasks(click_ctx: click.Context, ctx: Context, assignee: str | None, show_all: bool) -> int:
    """List staff tasks (open ones by default), the earliest due first."""
    if click_ctx.invoked_subcommand is not None:
        return 0
    app = ctx.app
    query = (
        select(tasks_table, customers.c.external_id)
        .join(customers, customers.c.id == tasks_table.c.customer_id)
        .order_by(tasks_table.c.due_at, tasks_table.c.id)
    )
    if assignee:
        query = query.where(tasks_table.c.assignee == assignee)
    if not show_all:
        query = query.where(tasks_table.c.status == "open")
    with app.store.begin() as conn:
        rows = list(conn.execute(query).mappings())
    if not rows:
        click.echo("no open tasks" if not show_all else "no tasks")
        return 0
    now = int(time.time())
    zone = app.settings.zone
    for row in rows:
        due = row["due_at"]
        late = " OVERDUE" if row["status"] == "open" and due is not None and due < now else ""
        when = show_instant(due, zone) if due is not None else "no due date"
        done = " [done]" if row["status"] != "open" else ""
        click.echo(
            f"#{row['id']:<5} due {when}{late}{done}  {row['assignee']}  "
            f"customer {row['external_id']}  ({row['rule_id']})"
        )
        click.echo(f"       {row['title']}")
    return 0


@tasks.command()
@click.argument("task_id", type=int)
@click.option("--note", default=None, help="What was done.")
@pass_context
def done(ctx: Context, task_id: int, note: str | None) -> int:
    """Mark task TASK_ID as done."""
    with ctx.app.store.begin() as conn:
        changed = conn.execute(
            update(tasks_table)
            .where(tasks_table.c.id == task_id, tasks_table.c.status == "open")
            .values(status="done", done_at=int(time.time()), note=note)
        ).rowcount
    if not changed:
        raise NotFound(f"no open task #{task_id} (see `patron tasks`)")
    click.echo(f"task #{task_id} done")
    return 0


COMMANDS = [tasks]
