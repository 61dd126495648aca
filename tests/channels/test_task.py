"""Staff tasks (``send: {channel: task, to: ...}``) and routing to staff."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import select

from core.channels.task import StaffTask, TaskChannel, TaskChannelSettings
from core.cli.main import main
from core.config import Settings, StaffMember
from core.delivery import deliver, message_id
from core.registry import Registry
from core.store import Store
from core.store.tables import table_of
from core.templates import TemplateCatalog
from core.testing_smtp import SmtpSink
from core.vocabulary import OutgoingMessage

from .conftest import Book

tasks = table_of(StaffTask)
DAY = 86400
STAFF = {
    "supervisor": StaffMember(
        name="Wang Li", email="lead@example.com", phone="+8613800000001", locale="en"
    ),
    "service_desk": StaffMember(name="Service desk"),
}


def all_tasks(store: Store) -> list[dict[str, Any]]:
    with store.begin() as conn:
        return [dict(r) for r in conn.execute(select(tasks).order_by(tasks.c.id)).mappings()]


def staffed(settings: Settings, **channels: Any) -> Settings:
    return settings.model_copy(update={"staff": STAFF, "channels": channels})


def test_tasks_go_to_a_role_or_the_account_manager_once(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    settings = staffed(settings, task={"due_in": "4h"})
    managed = book.customer("C1", name="Ada", email="ada@example.com", account_manager="Chen")
    unmanaged = book.customer("C2", name="Bo", consent={"email": False})
    to_role = book.send(
        managed,
        channel="task",
        created_at=as_of,
        args={"channel": "task", "template": "care/hello", "to": "supervisor"},
    )
    to_manager = book.send(managed, channel="task", created_at=as_of)
    nobody = book.send(unmanaged, channel="task", created_at=as_of)
    opted_out = book.send(
        unmanaged,
        channel="task",
        created_at=as_of,
        args={"channel": "task", "template": "care/hello", "to": "service_desk"},
    )

    summary = deliver(store, registry, settings, catalog, now=as_of)

    assert (summary.sent, summary.suppressed) == (3, {"no account manager": 1})
    assert book.row(nobody)["suppressed_reason"] == "no account manager"
    found = {t["ledger_id"]: t for t in all_tasks(store)}
    assert set(found) == {to_role, to_manager, opted_out}  # staff tasks ignore customer consent
    task = found[to_role]
    assert (task["assignee"], task["status"], task["rule_id"]) == (
        "supervisor",
        "open",
        "birthday-greeting",
    )
    assert (task["created_at"], task["due_at"], task["customer_id"]) == (
        as_of,
        as_of + 4 * 3600,
        managed,
    )
    assert task["title"] == "Hello Ada" and "Hi Ada" in task["body"]
    assert found[to_manager]["assignee"] == "Chen"

    # the same message again (a crash before it was recorded) creates no second task
    with store.begin() as conn:
        conn.execute(tasks.delete())
    channel = TaskChannel(TaskChannelSettings(), settings)
    channel.attach(store, {})
    key = book.row(to_role)["idempotency_key"]
    again = OutgoingMessage(to_role, key, message_id(key), "task", "supervisor", "Again", "Again")
    asyncio.run(channel.send(again))
    asyncio.run(channel.send(again))
    assert [t["ledger_id"] for t in all_tasks(store)] == [to_role]


def test_a_default_assignee_takes_unmanaged_customers(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    settings = staffed(settings, task={"default_assignee": "service_desk"})
    book.send(book.customer("C1", name="Ada"), channel="task", created_at=as_of)
    assert deliver(store, registry, settings, catalog, now=as_of).sent == 1
    assert [t["assignee"] for t in all_tasks(store)] == ["service_desk"]


def test_a_task_is_announced_by_email(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_server: SmtpSink,
) -> None:
    settings = staffed(settings, task={"announce": "email"}, email=smtp_server.settings())
    customer = book.customer("C1", name="Ada", email="ada@example.com")
    book.send(
        customer,
        channel="task",
        created_at=as_of,
        args={"channel": "task", "template": "care/hello", "to": "supervisor"},
    )
    assert deliver(store, registry, settings, catalog, now=as_of).sent == 1
    (mail,) = smtp_server.messages
    assert mail.recipients == ["lead@example.com"]
    assert mail.message["Subject"] == "[task] Hello Ada"


def test_staff_email_and_unknown_roles(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_server: SmtpSink,
) -> None:
    settings = staffed(settings, email=smtp_server.settings())
    customer = book.customer(
        "C1", name="Ada", email="ada@example.com", account_manager="lead@example.com"
    )
    quiet = book.customer("C2", name="Bo", email="bo@example.com", account_manager="Zhou")

    def send(customer_id: int, to: str) -> int:
        return book.send(
            customer_id,
            channel="email",
            created_at=as_of,
            args={"channel": "email", "template": "care/hello", "to": to},
        )

    manager = send(customer, "account_manager")
    unknown = send(customer, "auditor")
    no_email = send(quiet, "account_manager")
    desk = send(customer, "service_desk")

    summary = deliver(store, registry, settings, catalog, now=as_of)

    assert summary.sent == 1
    assert [m.recipients for m in smtp_server.messages] == [["lead@example.com"]]
    assert book.row(manager)["status"] == "sent"
    assert book.row(unknown)["status"] == "failed"
    assert book.row(unknown)["last_error"] == (
        "staff role 'auditor' is not configured under staff: in patron.yaml"
    )
    assert book.row(no_email)["suppressed_reason"] == "account manager 'Zhou' has no email address"
    assert book.row(desk)["suppressed_reason"] == "service_desk has no email address"


def test_patron_tasks_lists_and_closes(
    sqlite_store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    as_of: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    book = Book(sqlite_store, itertools.count(1))
    customer = book.customer("C1", name="Ada", account_manager="Chen")
    book.send(customer, channel="task", created_at=as_of)
    deliver(sqlite_store, registry, staffed(settings), catalog, now=as_of)
    (settings.base_dir / "patron.yaml").write_text("database_url: sqlite:///patron.db\n")
    monkeypatch.chdir(settings.base_dir)
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)

    assert main(["tasks"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("#1     due 2026-11-24 09:00 CST")
    assert listed[0].endswith("Chen  customer C1  (birthday-greeting)")
    assert listed[1] == "       Ada，您好"  # an account manager without a locale: default_locale
    assert main(["tasks", "done", "1", "--note", "called"]) == 0
    assert main(["tasks"]) == 0
    assert capsys.readouterr().out == "task #1 done\nno open tasks\n"
    assert all_tasks(sqlite_store)[0]["note"] == "called"
    assert main(["tasks", "done", "1"]) == 1
    assert capsys.readouterr().err == "error: no open task #1 (see `patron tasks`)\n"
