"""The ``email`` channel: SMTP with a small pool of persistent connections.

::

    channels:
      email:
        host: smtp.example.com
        port: 587                      # default: 25, 587 with starttls, 465 with tls
        security: starttls             # none | starttls | tls (implicit TLS)
        username: care@example.com
        password_env: PATRON_SMTP_PASSWORD   # the secret stays in the environment
        from: "客服中心 <care@example.com>"
        reply_to: service@example.com
        pool_size: 4
        unsubscribe_url: "https://example.com/unsubscribe?c={customer}&m={message}"

Each message has a plain-text part and, when the template has an ``html`` block, an
HTML alternative; its ``Message-ID`` is derived from the ledger's idempotency key, so a
repeat after a crash carries the same one. Marketing messages get ``List-Unsubscribe``
(``unsubscribe_url``, one-click per RFC 8058, and/or a mailto; without either, a mailto
to the sender with subject "unsubscribe").
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import ssl
import time
import urllib.parse
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.channels.mime import address_header, header_value, mime_bytes
from core.channels.smtp_pool import SmtpEndpoint, SmtpPool
from core.config import Settings
from core.errors import PermanentDeliveryError
from core.vocabulary import Channel, OutgoingMessage

MARKETING = "marketing"
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


class EmailChannelSettings(BaseModel):
    """Settings of the ``email`` channel (``channels: {email: {...}}`` in patron.yaml)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = Field(description="SMTP server.")
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="none, starttls, or tls (implicit TLS, port 465)."
    )
    username: str | None = None
    password_env: str | None = Field(
        default=None, description="Environment variable holding the SMTP password."
    )
    from_address: str = Field(alias="from", description='"Name <address>" of the sender.')
    reply_to: str | None = None
    envelope_from: str | None = Field(
        default=None, description="Bounce address (MAIL FROM); defaults to the From address."
    )
    pool_size: int = Field(default=4, ge=1, le=64, description="Persistent connections.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds per SMTP command.")
    verify_tls: bool = Field(default=True, description="Check the server's certificate.")
    ca_file: Path | None = Field(default=None, description="Extra CA bundle (private CAs).")
    unsubscribe_url: str | None = Field(
        default=None,
        description="One-click unsubscribe URL; {customer} and {message} are filled in.",
    )
    unsubscribe_mailto: str | None = Field(default=None, description="Unsubscribe address.")

    @model_validator(mode="after")
    def _credentials(self) -> EmailChannelSettings:
        if self.password_env and not self.username:
            raise ValueError("password_env is set but username is not")
        if self.username and not self.password_env:
            raise ValueError(
                "username is set but password_env is not: name the environment variable "
                "that holds the password (never write the password here)"
            )
        if "@" not in email.utils.parseaddr(self.from_address)[1]:
            raise ValueError(f"from: '{self.from_address}' has no e-mail address")
        return self


def tls_context(settings: EmailChannelSettings, patron_settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(patron_settings.resolve(settings.ca_file)))
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class EmailChannel:
    """Sends MIME messages through an :class:`SmtpPool`."""

    name = "email"
    address_field = "email"

    def __init__(
        self,
        settings: EmailChannelSettings,
        pool: SmtpPool,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.sender = settings.envelope_from or email.utils.parseaddr(settings.from_address)[1]
        self.from_header = address_header(settings.from_address)
        self.reply_to = address_header(settings.reply_to) if settings.reply_to else None

    def address_of(self, customer: dict[str, Any]) -> str | None:
        value = customer.get("email")
        return str(value).strip() if value else None

    def headers(self, message: OutgoingMessage) -> list[tuple[str, str]]:
        """The header lines of ``message`` (values ready to write)."""
        headers = [
            ("Message-ID", message.message_id),
            ("Date", email.utils.formatdate(self.clock(), usegmt=True)),
            ("From", self.from_header),
            ("To", message.to),
            ("Subject", header_value(message.subject)),
        ]
        if self.reply_to:
            headers.append(("Reply-To", self.reply_to))
        if message.locale:
            headers.append(("Content-Language", message.locale))
        if message.headers.get("X-Patron-Category") == MARKETING:
            headers.extend(self.unsubscribe_headers(message).items())
        else:
            headers.append(("Auto-Submitted", "auto-generated"))
        return headers

    def render(self, message: OutgoingMessage) -> bytes:
        """The message as it goes on the wire (plain text, plus HTML when rendered).

        An internationalized address (``王@例子.中国``) is written as UTF-8 and sent with
        SMTPUTF8; a server without it fails that message permanently.
        """
        if any(c in message.to for c in '\r\n<>,;"'):
            raise PermanentDeliveryError(f"cannot write the address '{message.to}' in a header")
        return mime_bytes(
            self.headers(message),
            message.body,
            message.html,
            message.message_id,
            utf8=not message.to.isascii(),
        )

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """:meth:`render`, parsed back (to inspect a message)."""
        parsed = email.message_from_bytes(self.render(message), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def unsubscribe_headers(self, message: OutgoingMessage) -> dict[str, str]:
        """``List-Unsubscribe`` (and ``List-Unsubscribe-Post`` for a URL) of a marketing mail."""
        fill = {
            "customer": urllib.parse.quote(message.customer_external_id, safe=""),
            "message": message.message_id.strip("<>").split("@")[0],
        }
        targets: list[str] = []
        headers: dict[str, str] = {}
        if self.settings.unsubscribe_url:
            targets.append(f"<{self.settings.unsubscribe_url.format(**fill)}>")
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if self.settings.unsubscribe_mailto or not targets:
            mailbox = self.settings.unsubscribe_mailto or self.sender
            subject = urllib.parse.quote(f"unsubscribe {message.customer_external_id}".strip())
            targets.append(f"<mailto:{mailbox}?subject={subject}>")
        return {"List-Unsubscribe": ", ".join(targets), **headers}

    async def send(self, message: OutgoingMessage) -> None:
        await self.pool.send(
            self.render(message), self.sender, message.to, utf8=not message.to.isascii()
        )

    async def close(self) -> None:
        await self.pool.close()


def make_email_channel(settings: BaseModel, patron_settings: Settings) -> Channel:
    assert isinstance(settings, EmailChannelSettings)
    endpoint = SmtpEndpoint(
        host=settings.host,
        port=settings.port or _DEFAULT_PORTS[settings.security],
        security=settings.security,
        username=settings.username,
        password_env=settings.password_env,
        timeout=settings.timeout,
        tls_context=tls_context(settings, patron_settings) if settings.security != "none" else None,
    )
    return EmailChannel(settings, SmtpPool(endpoint, settings.pool_size))


__all__ = ["EmailChannel", "EmailChannelSettings", "make_email_channel"]
