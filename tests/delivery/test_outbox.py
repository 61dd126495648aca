"""The outbox worker against real stores (SQLite and PostgreSQL) and a real file outbox."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path
from typing import Any

import pluggy
import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, text

from core.builtin.channels import outbox_file_name
from core.config import Settings
from core.delivery import backoff_seconds, deliver, deliver_pending, message_id, render_preview
from core.delivery.claim import claim as _claim
from core.errors import PermanentDeliveryError, TransientDeliveryError
from core.hookspecs import hookimpl
from core.plugins import make_plugin_manager
from core.registry import Registry, build_registry
from core.store import LedgerStatus, Store
from core.templates import TemplateCatalog
from core.vocabulary import Channel, ChannelType, OutgoingMessage

from .conftest import Book, ledger

DAY = 86400


def outbox_text(settings: Settings, book: Book, ledger_id: int) -> str:
    key = book.row(ledger_id)["idempotency_key"]
    return (settings.outbox / outbox_file_name(key)).read_text(encoding="utf-8")


def test_pending_rows_become_outbox_files_in_each_customers_language(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    lin = book.customer("C1", name="林小红", email="lin@example.com", locale="zh-CN")
    ada = book.customer(
        "C2", name="Ada", email="ada@example.com", locale="en-GB", timezone="Europe/London"
    )
    for customer in (lin, ada):
        book.event(customer, "purchase", as_of - 10 * DAY, amount=123450, ref=f"o-{customer}")
        book.event(
            customer, "purchase", as_of + DAY, amount=99, ref=f"later-{customer}"
        )  # after the firing
    first = book.send(lin, created_at=as_of)
    second = book.send(ada, created_at=as_of)

    summary = deliver(store, registry, settings, catalog, now=as_of + 60)

    assert (summary.sent, summary.suppressed, summary.failed, summary.retried) == (2, {}, 0, 0)
    key = book.row(first)["idempotency_key"]
    assert outbox_text(settings, book, first) == (
        f"Message-ID: {message_id(key)}\n"
        "To: lin@example.com\n"
        "Subject: 林小红，您好\n"
        "X-Patron-Rule: birthday-greeting\n"
        "X-Patron-Customer: C1\n"
        "Content-Language: zh-CN\n"
        "X-Patron-Category: care\n"
        "\n"
        "林小红，您今年共消费 ¥1,234.50（1 笔订单）。\n"
    )
    english = outbox_text(settings, book, second)
    assert "Subject: Hello Ada\n" in english
    assert "Content-Language: en\n" in english
    assert (
        "Hi Ada, you spent ¥1,234.50 this year (1 orders).\n"
        "Rule birthday-greeting on 23 Nov 2026.\n" in english
    )
    for ledger_id in (first, second):
        row = book.row(ledger_id)
        assert (row["status"], row["sent_at"], row["attempts"], row["next_attempt_at"]) == (
            LedgerStatus.SENT.value,
            as_of + 60,
            1,
            None,
        )


def test_message_id_is_deterministic() -> None:
    assert message_id("birthday-greeting:1:2026") == message_id("birthday-greeting:1:2026")
    assert message_id("birthday-greeting:1:2026") != message_id("birthday-greeting:2:2026")
    value = message_id("k")
    assert (
        value.startswith("<")
        and value.endswith("@patron>")
        and len(value) == 1 + 32 + len("@patron>")
    )


def test_delivering_again_sends_nothing_twice(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", name="Ada", email="ada@example.com", locale="en")
    ledger_id = book.send(customer, created_at=as_of)
    assert deliver(store, registry, settings, catalog, now=as_of).sent == 1
    written = outbox_text(settings, book, ledger_id)
    (settings.outbox / outbox_file_name(book.row(ledger_id)["idempotency_key"])).unlink()

    again = deliver(store, registry, settings, catalog, now=as_of + 7 * DAY)

    assert again.total == 0
    assert list(settings.outbox.iterdir()) == []  # nothing rewritten
    assert book.row(ledger_id)["attempts"] == 1
    assert written.startswith("Message-ID: <")


@pytest.mark.parametrize(
    ("fields", "channel_settings", "reason"),
    [
        ({"email": None}, {}, "no email address"),
        ({"email": ""}, {}, "no email address"),
        ({"phone": None}, {"address": "phone"}, "no phone number"),
        ({"consent": {"email": False}}, {}, "no consent for email"),
    ],
)
def test_unreachable_customers_are_suppressed(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    fields: dict[str, Any],
    channel_settings: dict[str, Any],
    reason: str,
) -> None:
    settings = settings.model_copy(update={"channels": {"file": channel_settings}})
    fine = book.customer(
        "C0",
        email="ok@example.com",
        phone="+86 138 0013 8000",
        consent={"email": True, "sms": False},
    )
    customer = book.customer(
        "C1", **{"email": "c1@example.com", "phone": "+86 139 0013 9000", **fields}
    )
    suppressed = book.send(customer, created_at=as_of)
    sent = book.send(fine, created_at=as_of)

    summary = deliver(store, registry, settings, catalog, now=as_of)

    assert (summary.sent, summary.suppressed, summary.suppressed_total) == (1, {reason: 1}, 1)
    row = book.row(suppressed)
    assert (row["status"], row["suppressed_reason"], row["sent_at"]) == ("suppressed", reason, None)
    assert book.row(sent)["status"] == "sent"
    assert len(list(settings.outbox.iterdir())) == 1


@pytest.mark.parametrize(
    ("history", "suppressed"),
    [
        ([("unsubscribe", {"channel": "email"}, -5)], True),  # the file channel's consent key
        ([("unsubscribe", {"channel": "file"}, -5)], True),  # the channel's own name
        ([("unsubscribe", None, -5)], True),  # no channel: every channel
        ([("unsubscribe", {"channel": "sms"}, -5)], False),
        (
            [("unsubscribe", {"channel": "email"}, -5), ("subscribe", {"channel": "email"}, -2)],
            False,
        ),
        ([("subscribe", {"channel": "email"}, -5), ("unsubscribe", None, -2)], True),
        ([("unsubscribe", None, -5), ("subscribe", {"channel": "sms"}, -2)], True),
        ([("unsubscribe", {"channel": "email"}, +1)], False),  # after now: not yet
    ],
)
def test_unsubscribe_events(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    history: list[tuple[str, dict[str, str] | None, int]],
    suppressed: bool,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    now = as_of + DAY
    for kind, payload, days in history:
        book.event(customer, kind, now + days * 3600, payload=payload)
    ledger_id = book.send(customer, created_at=as_of)

    summary = deliver(store, registry, settings, catalog, now=now)

    if suppressed:
        assert summary.suppressed == {"unsubscribed from email": 1}
        assert book.row(ledger_id)["suppressed_reason"] == "unsubscribed from email"
    else:
        assert summary.sent == 1


def test_a_broken_template_fails_its_row_and_the_batch_goes_on(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(settings.base_dir)
    customers = [book.customer(f"C{i}", email=f"c{i}@example.com", locale="en") for i in range(3)]
    rows = [
        book.send(customers[0], created_at=as_of),
        book.send(customers[1], "care/broken", created_at=as_of),
        book.send(customers[2], "care/missing", created_at=as_of),
        book.send(customers[2], created_at=as_of),
    ]

    summary = deliver(store, registry, settings, catalog, now=as_of, batch_size=10)

    assert (summary.sent, summary.failed) == (2, 2)
    assert [book.row(r)["status"] for r in rows] == ["sent", "failed", "failed", "sent"]
    assert book.row(rows[1])["last_error"] == (
        "templates/care/broken.en.j2:3: customer has no field 'nmae' (did you mean 'name'?)"
    )
    assert book.row(rows[2])["last_error"] == "unknown template 'care/missing'"
    assert book.row(rows[1])["attempts"] == 0  # nothing was attempted


def test_unconfigured_channel_fails_the_row(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    ledger_id = book.send(customer, channel="fil", created_at=as_of)
    summary = deliver(store, registry, settings, catalog, now=as_of)
    assert summary.failed == 1
    assert (
        book.row(ledger_id)["last_error"]
        == "channel 'fil' is not configured (did you mean 'file'?)"
    )


def test_rows_not_due_and_other_actions_are_left_alone(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    later = book.send(customer, created_at=as_of, next_attempt_at=as_of + 60)
    effect = book.send(customer, created_at=as_of, action="grant_points")
    done = book.send(customer, created_at=as_of, status="done")
    assert deliver(store, registry, settings, catalog, now=as_of).total == 0
    assert [book.row(r)["status"] for r in (later, effect, done)] == ["pending", "pending", "done"]
    assert deliver(store, registry, settings, catalog, now=as_of + 60).sent == 1


def test_priority_order_and_limit(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    low = book.send(customer, created_at=as_of, priority=80)
    urgent = book.send(customer, created_at=as_of, priority=10)
    middle = book.send(customer, created_at=as_of, priority=50)

    summary = deliver(store, registry, settings, catalog, now=as_of, limit=2, batch_size=1)

    assert summary.sent == 2
    assert [book.row(r)["status"] for r in (urgent, middle, low)] == ["sent", "sent", "pending"]


def test_features_are_computed_as_of_each_firing(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com", locale="en")
    book.event(customer, "purchase", as_of - DAY, amount=1000, ref="a")
    book.event(customer, "purchase", as_of + 5 * DAY, amount=2000, ref="b")
    early = book.send(customer, created_at=as_of)
    late = book.send(customer, created_at=as_of + 10 * DAY)
    settings.delivery.deadline = 30 * DAY  # the early firing is still worth sending
    assert deliver(store, registry, settings, catalog, now=as_of + 10 * DAY).sent == 2
    assert "you spent ¥10.00 this year (1 orders)" in outbox_text(settings, book, early)
    assert "you spent ¥30.00 this year (2 orders)" in outbox_text(settings, book, late)


# -- a channel that fails, registered by a plugin ------------------------------------------


class Recorder(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Crash(BaseException):
    """The process dies (kill -9, power loss) right after a message left."""


class FlakyPlugin:
    """A real channel type, ``flaky``, that fails the way it is told to."""

    def __init__(self) -> None:
        self.failures: list[BaseException] = []  # raised by the next sends, in order
        self.crash_after: int | None = None  # sends before a crash
        self.sent: list[OutgoingMessage] = []
        self.closed = 0

    @hookimpl
    def patron_channel_types(self) -> list[ChannelType]:
        return [
            ChannelType(
                "flaky",
                "A channel that fails on request.",
                Recorder,
                self.make,
                consent_key="email",
            )
        ]

    def make(self, settings: BaseModel, patron_settings: Settings) -> Channel:
        return FlakyChannel(self)


class FlakyChannel:
    name = "flaky"
    address_field = "email"

    def __init__(self, plugin: FlakyPlugin) -> None:
        self.plugin = plugin

    def address_of(self, customer: dict[str, Any]) -> str | None:
        return customer.get("email") or None

    async def send(self, message: OutgoingMessage) -> None:
        await asyncio.sleep(0)
        if self.plugin.failures:
            raise self.plugin.failures.pop(0)
        self.plugin.sent.append(message)
        if self.plugin.crash_after is not None and len(self.plugin.sent) >= self.plugin.crash_after:
            self.plugin.crash_after = None
            raise Crash

    async def close(self) -> None:
        self.plugin.closed += 1


@pytest.fixture
def flaky() -> FlakyPlugin:
    return FlakyPlugin()


@pytest.fixture
def flaky_registry(flaky: FlakyPlugin, settings: Settings) -> Registry:
    pm: pluggy.PluginManager = make_plugin_manager(extra=[flaky])
    return build_registry(pm, settings)


def test_transient_errors_retry_with_backoff_then_send(
    store: Store,
    flaky_registry: Registry,
    flaky: FlakyPlugin,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com", locale="zh-CN")
    ledger_id = book.send(customer, channel="flaky", created_at=as_of)
    flaky.failures = [
        TransientDeliveryError("421 try again later"),
        TransientDeliveryError("timeout"),
    ]

    first = deliver(store, flaky_registry, settings, catalog, now=as_of, rng=random.Random(1))
    row = book.row(ledger_id)
    assert (first.retried, first.sent) == (1, 0)
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "pending",
        1,
        "421 try again later",
    )
    assert as_of + 15 <= row["next_attempt_at"] <= as_of + 30

    assert (
        deliver(store, flaky_registry, settings, catalog, now=as_of + 1).total == 0
    )  # not due yet

    second_at = row["next_attempt_at"]
    second = deliver(store, flaky_registry, settings, catalog, now=second_at)
    row = book.row(ledger_id)
    assert second.retried == 1
    assert (row["attempts"], row["last_error"]) == (2, "timeout")
    assert second_at + 30 <= row["next_attempt_at"] <= second_at + 60  # the delay doubled

    third = deliver(store, flaky_registry, settings, catalog, now=row["next_attempt_at"] + 1)
    row = book.row(ledger_id)
    assert third.sent == 1
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    assert [m.message_id for m in flaky.sent] == [message_id(row["idempotency_key"])]
    assert flaky.sent[0].to == "c1@example.com" and flaky.sent[0].locale == "zh-CN"
    assert flaky.closed == 4  # every run closes the channels it opened


def test_too_many_attempts_fail_the_row(
    store: Store,
    flaky_registry: Registry,
    flaky: FlakyPlugin,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    ledger_id = book.send(customer, channel="flaky", created_at=as_of)
    flaky.failures = [TransientDeliveryError("busy"), ConnectionResetError("reset by peer")]
    deliver(store, flaky_registry, settings, catalog, now=as_of, max_attempts=2)
    summary = deliver(store, flaky_registry, settings, catalog, now=as_of + 7200, max_attempts=2)
    row = book.row(ledger_id)
    assert summary.failed == 1
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert row["last_error"] == "gave up after 2 attempts: reset by peer"


def test_permanent_errors_fail_at_once(
    store: Store,
    flaky_registry: Registry,
    flaky: FlakyPlugin,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customers = [book.customer(f"C{i}", email=f"c{i}@example.com") for i in range(2)]
    bad = book.send(customers[0], channel="flaky", created_at=as_of)
    good = book.send(customers[1], channel="flaky", created_at=as_of)
    flaky.failures = [PermanentDeliveryError("550 no such mailbox")]
    summary = deliver(store, flaky_registry, settings, catalog, now=as_of)
    assert (summary.failed, summary.sent) == (1, 1)
    row = book.row(bad)
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "failed",
        1,
        "550 no such mailbox",
    )
    assert book.row(good)["status"] == "sent"


def test_a_crash_resends_at_most_the_messages_in_flight(
    store: Store,
    flaky_registry: Registry,
    flaky: FlakyPlugin,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    rows = [book.send(customer, channel="flaky", created_at=as_of) for _ in range(6)]
    settings.delivery.workers = 1  # one at a time: exactly one message is in flight
    flaky.crash_after = 2  # the second message leaves, then the process dies before recording it

    with pytest.raises(Crash):
        deliver(store, flaky_registry, settings, catalog, now=as_of)
    statuses = [book.row(r)["status"] for r in rows]
    assert statuses == ["sent", "pending", "pending", "pending", "pending", "pending"]
    assert deliver(store, flaky_registry, settings, catalog, now=as_of + 60).total == 0  # leased

    summary = deliver(store, flaky_registry, settings, catalog, now=as_of + 3600)

    assert summary.sent == 5
    ids = [m.message_id for m in flaky.sent]
    assert len(ids) == 7 and len(set(ids)) == 6  # one repeat: the row in flight, same Message-ID
    assert ids.count(message_id(book.row(rows[1])["idempotency_key"])) == 2


def test_concurrent_sends_repeat_only_unrecorded_messages_after_a_crash(
    store: Store,
    flaky_registry: Registry,
    flaky: FlakyPlugin,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    rows = [book.send(customer, channel="flaky", created_at=as_of) for _ in range(40)]
    settings.delivery.workers = 8
    flaky.crash_after = 20

    with pytest.raises(Crash):
        deliver(store, flaky_registry, settings, catalog, now=as_of)
    recorded = {r for r in rows if book.row(r)["status"] == "sent"}
    deliver(store, flaky_registry, settings, catalog, now=as_of + 3600)

    assert all(book.row(r)["status"] == "sent" for r in rows)  # nothing lost
    ids = [m.message_id for m in flaky.sent]
    repeats = len(ids) - len(set(ids))
    assert len(set(ids)) == 40
    assert repeats <= settings.delivery.workers  # only messages in flight, never a recorded one
    recorded_ids = {message_id(book.row(r)["idempotency_key"]) for r in recorded}
    assert all(ids.count(m) == 1 for m in recorded_ids)


def test_claims_lease_rows_so_a_second_worker_skips_them(
    store: Store, book: Book, as_of: int
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    rows = [book.send(customer, created_at=as_of) for _ in range(3)]
    first = _claim(store, as_of, 2, 900)
    second = _claim(store, as_of, 2, 900)
    assert [r["id"] for r in first] == rows[:2]
    assert [r["id"] for r in second] == rows[2:]
    assert _claim(store, as_of + 900, 5, 900) != []  # a crashed worker's lease runs out


@pytest.mark.postgres
def test_postgres_claim_skips_rows_locked_by_another_worker(
    postgres_store: Store, as_of: int
) -> None:
    book = Book(postgres_store, itertools.count(1))
    customer = book.customer("C1", email="c1@example.com")
    rows = [book.send(customer, created_at=as_of) for _ in range(3)]
    with postgres_store.engine.connect() as other:
        other.execute(text("BEGIN"))
        other.execute(select(ledger.c.id).where(ledger.c.id == rows[0]).with_for_update())
        claimed = _claim(postgres_store, as_of, 3, 900)  # does not wait for the lock
        other.rollback()
    assert [r["id"] for r in claimed] == rows[1:]


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt, (low, high) in {
        1: (15, 30),
        2: (30, 60),
        3: (60, 120),
        8: (1800, 3600),
        30: (1800, 3600),
    }.items():
        delays = [backoff_seconds(attempt, rng) for _ in range(50)]
        assert all(low <= d <= high for d in delays), attempt
        assert len(set(delays)) > 1  # jittered


def test_deliver_pending_is_a_coroutine(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    customer = book.customer("C1", email="c1@example.com")
    book.send(customer, created_at=as_of)
    summary = asyncio.run(deliver_pending(store, registry, settings, catalog, now=as_of))
    assert summary.sent == 1


def test_render_preview(settings: Settings, catalog: TemplateCatalog, as_of: int) -> None:
    message = render_preview(
        catalog,
        settings,
        {"id": "vip-thanks", "description": "Thanks.", "category": "loyalty"},
        {"channel": "email", "template": "care/hello"},
        {"external_id": "C9", "name": "Ada", "locale": "en-US", "timezone": "America/New_York"},
        {"spend_365d": 500000, "purchase_count": 7},
        as_of,
    )
    assert message.subject == "Hello Ada"
    assert (
        message.body
        == "Hi Ada, you spent ¥5,000.00 this year (7 orders).\nRule vip-thanks on 22 Nov 2026."
    )
    assert message.locale == "en"


def test_outbox_directory_is_untouched_when_nothing_is_due(
    store: Store, registry: Registry, settings: Settings, catalog: TemplateCatalog, as_of: int
) -> None:
    assert deliver(store, registry, settings, catalog, now=as_of).total == 0
    assert not Path(settings.outbox).exists()
