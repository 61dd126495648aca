"""The ``sms`` channel: an SMS gateway reached over HTTP (generic: URL, auth, body template).

::

    channels:
      sms:
        url: https://sms.example.com/v1/messages
        auth_env: PATRON_SMS_TOKEN           # "Authorization: Bearer <token>"
        format: json                         # or form
        body: {to: "{{ to }}", text: "{{ body }}", sign: "【示例商城】", client_ref: "{{ message_id }}"}
        max_length: 300

The text is the template's ``body`` block (no subject). ``patron check`` renders every
template a rule sends by SMS with sample values and names those longer than
``max_length``; at send time a longer text fails its row rather than being cut.
Phone numbers are checked before sending (E.164 after removing spaces and dashes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.channels.http import HttpPoster, HttpTargetSettings, render_body, variables
from core.config import Settings
from core.errors import PermanentDeliveryError
from core.guards.address import normalize_phone
from core.vocabulary import Channel, OutgoingMessage

DEFAULT_BODY: dict[str, Any] = {"to": "{{ to }}", "text": "{{ body }}", "ref": "{{ message_id }}"}


class SmsChannelSettings(HttpTargetSettings):
    """Settings of the ``sms`` channel (see the module docstring)."""

    format: Literal["json", "form"] = "json"
    max_length: int = Field(
        default=300, ge=1, description="Longest text in characters (several segments)."
    )


class SmsChannel:
    name = "sms"
    address_field = "phone"

    def __init__(self, settings: SmsChannelSettings) -> None:
        self.settings = settings
        self.poster = HttpPoster(settings, "channels.sms")
        self.body = settings.body or DEFAULT_BODY

    def address_of(self, customer: dict[str, Any]) -> str | None:
        value = customer.get("phone")
        return normalize_phone(str(value)) if value else None

    async def send(self, message: OutgoingMessage) -> None:
        if len(message.body) > self.settings.max_length:
            raise PermanentDeliveryError(
                f"the SMS text is {len(message.body)} characters; "
                f"channels.sms.max_length is {self.settings.max_length}"
            )
        body = render_body(self.body, variables(message))
        if self.settings.format == "form":
            await self.poster.post(message, data={k: str(v) for k, v in body.items()})
        else:
            await self.poster.post(message, json=body)

    async def close(self) -> None:
        await self.poster.close()


def make_sms_channel(settings: BaseModel, patron_settings: Settings) -> Channel:
    assert isinstance(settings, SmsChannelSettings)
    return SmsChannel(settings)


__all__ = ["SmsChannel", "SmsChannelSettings", "make_sms_channel"]
