"""Ledger rows that name shared action arguments (``action_args``) deliver exactly as
rows that carry their own, and a row's own arguments win over the shared ones."""

from __future__ import annotations

from sqlalchemy import func, select

from core.builtin.channels import outbox_file_name
from core.config import Settings
from core.delivery import deliver
from core.delivery.claim import claim
from core.registry import Registry
from core.store import LedgerStatus, Store
from core.store.ledger_args import action_args, intern_args, merged, with_shared_args
from core.templates import TemplateCatalog

from .conftest import Book

DAY = 86400


def test_equal_arguments_are_stored_once_whatever_their_key_order(store: Store) -> None:
    with store.begin() as conn:
        first = intern_args(conn, {"channel": "file", "template": "care/hello", "to": None})
        again = intern_args(conn, {"to": None, "template": "care/hello", "channel": "file"})
        other = intern_args(conn, {"channel": "file", "template": "care/other", "to": None})
        count = conn.execute(select(func.count()).select_from(action_args)).scalar_one()
    assert first == again != other
    assert count == 2


def test_a_rows_own_arguments_win() -> None:
    shared = {"channel": "task", "template": "service/escalation", "to": "desk"}
    assert merged({"to": "supervisor", "level": 2}, shared) == {
        "channel": "task",
        "template": "service/escalation",
        "to": "supervisor",
        "level": 2,
    }
    assert merged({"channel": "file"}, None) == {"channel": "file"}
    assert merged(None, None) == {}


def test_rows_naming_shared_arguments_are_claimed_whole_and_delivered(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    ada = book.customer("C1", name="Ada", email="ada@example.com", locale="en")
    lin = book.customer("C2", name="林小红", email="lin@example.com", locale="zh-CN")
    book.event(ada, "purchase", as_of - DAY, amount=5000)
    with store.begin() as conn:
        shared = intern_args(conn, {"channel": "file", "template": "care/hello", "to": None})
    named = book.send(ada, created_at=as_of, args={}, args_id=shared)
    # A row of its own arguments beside it, as written before schema version 5.
    inline = book.send(lin, created_at=as_of)

    with store.begin() as conn:
        rows = with_shared_args(
            conn, [book.row(named), {"args": {"to": "x"}, "args_id": shared}, book.row(inline)]
        )
    assert rows[0]["args"] == {"channel": "file", "template": "care/hello", "to": None}
    assert rows[1]["args"] == {"channel": "file", "template": "care/hello", "to": "x"}
    assert rows[2]["args"] == {"channel": "file", "template": "care/hello"}

    leased = claim(store, as_of + 60, 10, 300)
    assert {r["id"]: r["args"]["template"] for r in leased} == {
        named: "care/hello",
        inline: "care/hello",
    }
    # The lease ends before the delivery below: claims take due rows only.
    summary = deliver(store, registry, settings, catalog, now=as_of + 600)

    assert (summary.sent, summary.failed) == (2, 0)
    assert book.row(named)["status"] == LedgerStatus.SENT.value
    body = (settings.outbox / outbox_file_name(book.row(named)["idempotency_key"])).read_text(
        encoding="utf-8"
    )
    assert "Hi Ada" in body
