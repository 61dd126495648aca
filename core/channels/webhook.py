"""The ``webhook`` channel: an HTTP POST of a JSON body rendered from a template.

For IM bots (WeCom, DingTalk, Slack-style incoming webhooks) and CRM systems::

    channels:
      webhook:
        url_env: PATRON_WECOM_WEBHOOK_URL    # the URL carries a key: keep it out of YAML
        body:
          msgtype: text
          text: {content: "{{ subject }}\n{{ body }}"}

Without ``body`` the JSON is ``{message_id, idempotency_key, rule, category, customer,
to, subject, text, html, locale}``. Every request carries ``Idempotency-Key`` and
``X-Patron-Message-ID`` headers (the same on a retry). 2xx is sent, 4xx fails the row,
5xx and timeouts are retried (see :mod:`core.channels.http`). The recipient is the
customer's external id, or the staff role with ``send: {to: supervisor}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.channels.http import HttpPoster, HttpTargetSettings, render_body, variables
from core.config import Settings
from core.vocabulary import Channel, OutgoingMessage

DEFAULT_BODY: dict[str, Any] = {
    "message_id": "{{ message_id }}",
    "idempotency_key": "{{ idempotency_key }}",
    "rule": "{{ rule }}",
    "category": "{{ category }}",
    "customer": "{{ customer }}",
    "to": "{{ to }}",
    "subject": "{{ subject }}",
    "text": "{{ body }}",
    "html": "{{ html }}",
    "locale": "{{ locale }}",
}


class WebhookChannelSettings(HttpTargetSettings):
    """Settings of the ``webhook`` channel (see the module docstring)."""


class WebhookChannel:
    name = "webhook"
    address_field = "external_id"

    def __init__(self, settings: WebhookChannelSettings) -> None:
        self.settings = settings
        self.poster = HttpPoster(settings, "channels.webhook")
        self.body = settings.body or DEFAULT_BODY

    def address_of(self, customer: dict[str, Any]) -> str | None:
        value = customer.get("external_id")
        return str(value) if value else None

    async def send(self, message: OutgoingMessage) -> None:
        await self.poster.post(message, json=render_body(self.body, variables(message)))

    async def close(self) -> None:
        await self.poster.close()


def make_webhook_channel(settings: BaseModel, patron_settings: Settings) -> Channel:
    assert isinstance(settings, WebhookChannelSettings)
    return WebhookChannel(settings)


__all__ = ["DEFAULT_BODY", "WebhookChannel", "WebhookChannelSettings", "make_webhook_channel"]
