"""The e-mail channel against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.channels.email import EmailChannel, EmailChannelSettings, make_email_channel
from core.config import Settings
from core.delivery import build_channels, deliver, message_id
from core.errors import ChannelUnavailable, ConfigError, PermanentDeliveryError
from core.registry import Registry
from core.store import Store
from core.templates import TemplateCatalog
from core.testing_smtp import SmtpSink
from core.vocabulary import OutgoingMessage

from .conftest import Book

PASSWORD_ENV = "PATRON_TEST_SMTP_PASSWORD"


def with_email(settings: Settings, sink: SmtpSink, **extra: Any) -> Settings:
    return settings.model_copy(update={"channels": {"email": sink.settings(**extra)}})


def outgoing(n: int = 1, to: str = "ada@example.com", **fields: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "ledger_id": n,
        "idempotency_key": f"rule/2026/{n}/0",
        "message_id": message_id(f"rule/2026/{n}/0"),
        "channel": "email",
        "to": to,
        "subject": "Hello",
        "body": "Hi there.",
        "customer_external_id": f"C{n}",
        "rule_id": "rule",
        "locale": "en",
        **fields,
    }
    return OutgoingMessage(**values)


def channel_for(settings: Settings, sink: SmtpSink, **extra: Any) -> EmailChannel:
    model = EmailChannelSettings.model_validate(sink.settings(**extra))
    channel = make_email_channel(model, settings)
    assert isinstance(channel, EmailChannel)
    return channel


async def send_all(channel: EmailChannel, messages: list[OutgoingMessage]) -> None:
    try:
        await asyncio.gather(*(channel.send(m) for m in messages))
    finally:
        await channel.close()


def test_outbox_rows_arrive_as_mime_messages(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_server: SmtpSink,
) -> None:
    settings = with_email(
        settings, smtp_server, unsubscribe_url="https://example.com/u?c={customer}"
    )
    ada = book.customer("C1", name="Ada", email="ada@example.com", locale="en")
    care = book.send(ada, channel="email", created_at=as_of)
    offer = book.send(ada, "promo/offer", channel="email", created_at=as_of, category="marketing")

    summary = deliver(store, registry, settings, catalog, now=as_of + 60)

    assert summary.sent == 2
    by_id = {m.message_id: m for m in smtp_server.messages}
    greeting = by_id[message_id(book.row(care)["idempotency_key"])]
    assert (greeting.sender, greeting.recipients) == ("care@example.com", ["ada@example.com"])
    mail = greeting.message
    assert (mail["From"], mail["To"], mail["Subject"]) == (
        "Patron Care <care@example.com>",
        "ada@example.com",
        "Hello Ada",
    )
    assert mail["Auto-Submitted"] == "auto-generated" and mail["List-Unsubscribe"] is None
    assert mail.get_content_type() == "text/plain"
    assert "you spent ¥0.00 this year" in mail.get_content()

    promo = by_id[message_id(book.row(offer)["idempotency_key"])].message
    assert promo.get_content_type() == "multipart/alternative"
    plain = promo.get_body(("plain",))
    html = promo.get_body(("html",))
    assert plain is not None and "10% off" in plain.get_content()
    assert html is not None and "<b>Ada</b>" in html.get_content()
    assert promo["List-Unsubscribe"] == "<https://example.com/u?c=C1>"
    assert promo["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_pool_of_persistent_connections(settings: Settings, smtp_server: SmtpSink) -> None:
    channel = channel_for(settings, smtp_server, pool_size=3)
    asyncio.run(send_all(channel, [outgoing(n) for n in range(30)]))
    assert len(smtp_server.messages) == 30
    assert channel.pool.opened == 3  # reused, never more than pool_size


def test_marketing_without_unsubscribe_url_gets_a_mailto(
    settings: Settings, smtp_server: SmtpSink
) -> None:
    channel = channel_for(settings, smtp_server)
    mime = channel.build(outgoing(headers={"X-Patron-Category": "marketing"}))
    assert mime["List-Unsubscribe"] == "<mailto:care@example.com?subject=unsubscribe%20C1>"
    assert mime["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_auth(
    settings: Settings,
    smtp_sink: Callable[..., SmtpSink],
    tls_files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    security: str,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    sink = smtp_sink(tls=security, cert=tls_files, auth={"care": "s3cret"})
    channel = channel_for(settings, sink, username="care", password_env=PASSWORD_ENV, pool_size=1)
    asyncio.run(send_all(channel, [outgoing(1), outgoing(2)]))
    assert sorted(sink.message_ids) == sorted([outgoing(1).message_id, outgoing(2).message_id])
    assert sink.logins == [("care", True)]


def test_an_unverifiable_certificate_is_refused(
    settings: Settings, smtp_sink: Callable[..., SmtpSink], tls_files: tuple[Path, Path]
) -> None:
    sink = smtp_sink(tls="starttls", cert=tls_files)
    channel = channel_for(settings, sink, ca_file=None)
    with pytest.raises(ChannelUnavailable) as caught:
        asyncio.run(send_all(channel, [outgoing()]))
    assert str(caught.value).startswith(f"TLS with the SMTP server 127.0.0.1:{sink.port} failed:")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert sink.messages == []


def test_auth_failure_is_a_clear_error_and_nothing_is_lost(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_sink: Callable[..., SmtpSink],
    tls_files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    sink = smtp_sink(tls="starttls", cert=tls_files, auth={"care": "s3cret"})
    settings = with_email(settings, sink, username="care", password_env=PASSWORD_ENV)
    people = [book.customer(f"C{i}", email=f"c{i}@example.com") for i in range(5)]
    rows = [book.send(p, channel="email", created_at=as_of) for p in people]

    summary = deliver(store, registry, settings, catalog, now=as_of, rng=random.Random(3))

    assert (summary.sent, summary.retried, summary.failed) == (0, 5, 0)
    error = book.row(rows[0])["last_error"]
    assert error.startswith(
        f"SMTP authentication failed for user 'care' at 127.0.0.1:{sink.port}: 535 "
    )
    assert error.endswith(
        f"; check channels.email.username and the {PASSWORD_ENV} environment variable"
    )
    assert len(sink.logins) == 2  # one connection (aiosmtplib tries PLAIN, then LOGIN), not 5

    monkeypatch.setenv(PASSWORD_ENV, "s3cret")  # the operator fixes the secret
    later = deliver(store, registry, settings, catalog, now=as_of + 7200)
    assert later.sent == 5 and len(sink.messages) == 5


def test_a_missing_password_variable_is_named(
    settings: Settings, smtp_server: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    channel = channel_for(settings, smtp_server, username="care", password_env=PASSWORD_ENV)
    with pytest.raises(ChannelUnavailable) as caught:
        asyncio.run(send_all(channel, [outgoing()]))
    assert str(caught.value) == (
        f"channels.email.password_env: environment variable {PASSWORD_ENV} is not set"
    )


def test_server_down_then_up_loses_nothing(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_server: SmtpSink,
) -> None:
    settings = with_email(settings, smtp_server)
    people = [book.customer(f"C{i}", email=f"c{i}@example.com") for i in range(12)]
    rows = [book.send(p, channel="email", created_at=as_of) for p in people]
    smtp_server.stop()

    now = as_of
    for _ in range(4):  # an outage across several runs (about 4 minutes of backoff)
        down = deliver(store, registry, settings, catalog, now=now)
        assert down.sent == 0 and down.retried == 12
        now = max(book.row(r)["next_attempt_at"] for r in rows)
    assert "cannot connect to the SMTP server 127.0.0.1" in book.row(rows[0])["last_error"]

    smtp_server.start()
    back = deliver(store, registry, settings, catalog, now=now)

    assert back.sent == 12
    assert sorted(smtp_server.message_ids) == sorted(
        message_id(book.row(r)["idempotency_key"]) for r in rows
    )
    assert all(book.row(r)["status"] == "sent" for r in rows)


def test_a_4xx_reply_is_retried_then_sent(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_server: SmtpSink,
) -> None:
    settings = with_email(settings, smtp_server)
    row = book.send(book.customer("C1", email="c1@example.com"), channel="email", created_at=as_of)
    smtp_server.replies["rcpt"].append("451 4.3.0 Mailbox busy, try again later")

    first = deliver(store, registry, settings, catalog, now=as_of)
    state = book.row(row)
    assert (first.retried, state["status"], state["attempts"]) == (1, "pending", 1)
    assert state["last_error"] == (
        "SMTP 451 4.3.0 Mailbox busy, try again later (recipient c1@example.com)"
    )

    second = deliver(store, registry, settings, catalog, now=state["next_attempt_at"])
    assert second.sent == 1 and book.row(row)["status"] == "sent"
    assert len(smtp_server.messages) == 1


def test_a_5xx_reply_fails_the_row_and_the_next_one_still_goes(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    smtp_server: SmtpSink,
) -> None:
    settings = with_email(settings, smtp_server)
    settings.delivery.workers = 1
    bad = book.send(
        book.customer("C1", email="gone@example.com"), channel="email", created_at=as_of
    )
    good = book.send(book.customer("C2", email="c2@example.com"), channel="email", created_at=as_of)
    smtp_server.replies["data"].append("554 5.7.1 Message rejected as spam")

    summary = deliver(store, registry, settings, catalog, now=as_of)

    assert (summary.sent, summary.failed) == (1, 1)
    assert book.row(bad)["status"] == "failed"
    assert book.row(bad)["last_error"] == "SMTP 554 5.7.1 Message rejected as spam"
    assert book.row(good)["status"] == "sent"


def test_a_permanent_error_from_the_channel(settings: Settings, smtp_server: SmtpSink) -> None:
    smtp_server.replies["rcpt"].append("550 5.1.1 No such user")
    channel = channel_for(settings, smtp_server)
    with pytest.raises(PermanentDeliveryError, match=r"SMTP 550 5\.1\.1 No such user"):
        asyncio.run(send_all(channel, [outgoing()]))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"username": "care"},
            "channels.email: Value error, username is set but password_env is not",
        ),
        (
            {"security": "ssl"},
            "channels.email.security: Input should be 'none', 'starttls' or 'tls'",
        ),
        ({"from": "nobody"}, "channels.email: Value error, from: 'nobody' has no e-mail address"),
        ({"pasword_env": "X"}, "channels.email.pasword_env: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_named(
    registry: Registry,
    settings: Settings,
    smtp_server: SmtpSink,
    extra: dict[str, Any],
    message: str,
) -> None:
    settings = with_email(settings, smtp_server, **extra)
    with pytest.raises(ConfigError) as caught:
        build_channels(registry, settings)
    assert str(caught.value).startswith(message)


def test_non_ascii_names_subjects_and_bodies_survive(
    settings: Settings, smtp_server: SmtpSink
) -> None:
    channel = channel_for(settings, smtp_server, **{"from": "客服中心 <care@example.com>"})
    body = "林小红，您好！\n" + "很长的一行。" * 200
    html = "<p>您好</p>"
    asyncio.run(
        send_all(channel, [outgoing(subject="生日快乐，林小红！ " * 8, body=body, html=html)])
    )
    (mail,) = smtp_server.messages
    message = mail.message
    assert message["Subject"] == ("生日快乐，林小红！ " * 8).strip()
    assert message["From"] == "客服中心 <care@example.com>"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and plain.get_content().rstrip("\n") == body
    assert rich is not None and rich.get_content().rstrip("\n") == html
