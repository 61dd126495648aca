"""Webhook and SMS-gateway channels against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.channels.sms import SmsChannel, SmsChannelSettings
from core.channels.webhook import WebhookChannel, WebhookChannelSettings
from core.config import Settings
from core.delivery import build_channels, deliver, message_id
from core.errors import (
    ChannelUnavailable,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from core.registry import Registry
from core.store import Store
from core.templates import TemplateCatalog
from core.testing_http import HttpSink
from core.testing_smtp import free_port
from core.vocabulary import OutgoingMessage

from .conftest import Book

TOKEN_ENV = "PATRON_TEST_GATEWAY_TOKEN"


def message(**fields: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "ledger_id": 7,
        "idempotency_key": "low-score/2026/7/0",
        "message_id": message_id("low-score/2026/7/0"),
        "channel": "webhook",
        "to": "C7",
        "subject": 'Customer "Lin" unhappy',
        "body": "Score 1/5.\nCall today.",
        "customer_external_id": "C7",
        "rule_id": "low-score",
        "locale": "zh-CN",
        "headers": {"X-Patron-Category": "service"},
        **fields,
    }
    return OutgoingMessage(**values)


def send(channel: WebhookChannel | SmsChannel, outgoing: OutgoingMessage) -> None:
    async def run() -> None:
        try:
            await channel.send(outgoing)
        finally:
            await channel.close()

    asyncio.run(run())


def test_webhook_posts_the_rendered_json_body(
    http_server: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t0ken")
    settings = WebhookChannelSettings.model_validate(
        {
            "url": http_server.url,
            "auth_env": TOKEN_ENV,
            "headers": {"X-Source": "patron"},
            "body": {"msgtype": "text", "text": {"content": "{{ subject }}\n{{ body }}"}, "n": 1},
        }
    )
    send(WebhookChannel(settings), message())
    (request,) = http_server.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.json() == {
        "msgtype": "text",
        "text": {"content": 'Customer "Lin" unhappy\nScore 1/5.\nCall today.'},
        "n": 1,
    }
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["X-Source"] == "patron"
    assert request.headers["Idempotency-Key"] == "low-score/2026/7/0"
    assert request.headers["X-Patron-Message-ID"] == message().message_id


def test_webhook_default_body(http_server: HttpSink) -> None:
    send(WebhookChannel(WebhookChannelSettings(url=http_server.url)), message())
    body = http_server.requests[0].json()
    assert body["text"] == "Score 1/5.\nCall today." and body["category"] == "service"
    assert body["message_id"] == message().message_id and body["customer"] == "C7"


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (400, PermanentDeliveryError, "HTTP 400 Bad Request from http://127.0.0.1:"),
        (404, PermanentDeliveryError, "HTTP 404 Not Found from"),
        (429, TransientDeliveryError, "HTTP 429 Too Many Requests from"),
        (500, TransientDeliveryError, "HTTP 500 Internal Server Error from"),
        (503, TransientDeliveryError, "HTTP 503 Service Unavailable from"),
    ],
)
def test_http_statuses(
    http_server: HttpSink, status: int, error: type[Exception], text: str
) -> None:
    http_server.responses.append((status, '{"errcode": 40001}'))
    with pytest.raises(error) as caught:
        send(WebhookChannel(WebhookChannelSettings(url=http_server.url)), message())
    assert text in str(caught.value)
    assert str(caught.value).endswith('/hook: {"errcode": 40001}')
    assert type(caught.value) is error


def test_a_timeout_is_retried(http_server: HttpSink) -> None:
    http_server.delay = 0.5
    channel = WebhookChannel(WebhookChannelSettings(url=http_server.url, timeout=0.1))
    with pytest.raises(TransientDeliveryError, match="timed out"):
        send(channel, message())


def test_a_refused_connection_makes_the_channel_wait() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(ChannelUnavailable, match=r"cannot connect to http://127\.0\.0\.1"):
        send(WebhookChannel(WebhookChannelSettings(url=url)), message())


def test_a_url_kept_in_the_environment_is_not_shown(
    http_server: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_TEST_HOOK_URL", http_server.url + "?key=SECRET")
    http_server.responses.append((403, "forbidden"))
    channel = WebhookChannel(WebhookChannelSettings(url_env="PATRON_TEST_HOOK_URL"))
    with pytest.raises(PermanentDeliveryError) as caught:
        send(channel, message())
    assert "SECRET" not in str(caught.value)
    assert http_server.requests[0].path == "/hook?key=SECRET"


def test_sms_json_and_form_bodies(http_server: HttpSink) -> None:
    json_channel = SmsChannel(SmsChannelSettings(url=http_server.url, auth_scheme=None))
    send(json_channel, message(channel="sms", to="+8613800138000"))
    form_channel = SmsChannel(
        SmsChannelSettings(
            url=http_server.url, format="form", body={"mobile": "{{ to }}", "content": "{{ body }}"}
        )
    )
    send(form_channel, message(channel="sms", to="+8613800138000"))
    first, second = http_server.requests
    assert first.json() == {
        "to": "+8613800138000",
        "text": "Score 1/5.\nCall today.",
        "ref": message().message_id,
    }
    assert second.form() == {"mobile": "+8613800138000", "content": "Score 1/5.\nCall today."}
    assert second.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_sms_longer_than_max_length_fails(http_server: HttpSink) -> None:
    channel = SmsChannel(SmsChannelSettings(url=http_server.url, max_length=10))
    with pytest.raises(PermanentDeliveryError) as caught:
        send(channel, message(channel="sms"))
    assert str(caught.value) == "the SMS text is 22 characters; channels.sms.max_length is 10"
    assert http_server.requests == []


@pytest.mark.parametrize(
    ("channel", "values", "error"),
    [
        ("webhook", {}, "channels.webhook: Value error, give exactly one of url and url_env"),
        (
            "webhook",
            {"url": "ftp://x"},
            "channels.webhook: Value error, url: 'ftp://x' must start with http:// or https://",
        ),
        (
            "sms",
            {"url": "http://127.0.0.1/x", "body": {"text": "{{ body "}},
            "channels.sms: Value error, body.text: unexpected end of template",
        ),
        (
            "sms",
            {"url": "http://127.0.0.1/x", "format": "xml"},
            "channels.sms.format: Input should be 'json' or 'form'",
        ),
    ],
)
def test_bad_http_settings(
    registry: Registry, settings: Settings, channel: str, values: dict[str, Any], error: str
) -> None:
    settings = settings.model_copy(update={"channels": {channel: values}})
    with pytest.raises(ConfigError) as caught:
        build_channels(registry, settings)
    assert str(caught.value).startswith(error)


def test_sms_through_the_outbox(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    http_server: HttpSink,
) -> None:
    settings = settings.model_copy(update={"channels": {"sms": {"url": http_server.url}}})
    ok = book.customer("C1", name="Ada", phone="+86 138-0013-8000", locale="en")
    bad = book.customer("C2", name="Bo", phone="call me", locale="en")
    none = book.customer("C3", name="Cy", locale="en")
    no_sms = book.customer("C4", name="Di", phone="+8613900139000", consent={"sms": False})
    rows = [book.send(c, channel="sms", created_at=as_of) for c in (ok, bad, none, no_sms)]
    http_server.responses.append((502, "gateway down"))

    first = deliver(store, registry, settings, catalog, now=as_of)
    assert first.retried == 1
    assert first.suppressed == {
        "invalid phone number: expected digits in international format, such as +8613800138000": 1,
        "no phone number": 1,
        "no consent for sms": 1,
    }
    later = deliver(store, registry, settings, catalog, now=book.row(rows[0])["next_attempt_at"])
    assert later.sent == 1
    assert [r.json()["to"] for r in http_server.requests] == ["+8613800138000"] * 2
    assert http_server.requests[1].json()["text"].startswith("Hi Ada, you spent")
