"""A small pool of persistent SMTP connections (aiosmtplib), and SMTP errors as patron's.

Connections are opened lazily (at most ``size``), kept open between messages and
between delivery runs, and dropped after any error that may have left them in an
unknown state. A connection the server closed while idle is replaced once, at once.

Error mapping (see :mod:`core.errors`):

=====================================  =========================================
cannot connect, TLS handshake fails    ChannelUnavailable (the whole channel waits)
AUTH refused (535 ...)                 ChannelUnavailable, naming the user and the
                                       password variable to check
4xx reply, timeout, disconnect         TransientDeliveryError (retried with backoff)
5xx reply, SMTPUTF8 not supported      PermanentDeliveryError (the row fails)
=====================================  =========================================
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiosmtplib

from core.channels.secrets import secret
from core.errors import (
    ChannelUnavailable,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

T = TypeVar("T")
FAILURE_COOLDOWN = 1.0  # seconds in which a failed connect is not tried again


@dataclass(frozen=True)
class SmtpEndpoint:
    """How to reach and log in to the server."""

    host: str
    port: int
    security: str  # "none", "starttls" or "tls"
    username: str | None
    password_env: str | None  # read when connecting, so dry runs need no secrets
    timeout: float
    tls_context: ssl.SSLContext | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def classify(exc: BaseException, endpoint: SmtpEndpoint) -> Exception:
    """The patron error for an aiosmtplib (or socket) error during a send."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        kind = PermanentDeliveryError if first.code >= 500 else TransientDeliveryError
        return kind(f"SMTP {first.code} {first.message} (recipient {first.recipient})")
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected
    ):
        kind = PermanentDeliveryError if exc.code >= 500 else TransientDeliveryError
        return kind(f"SMTP {_reply(exc)}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentDeliveryError(f"SMTP server {endpoint.where}: {exc}")
    return TransientDeliveryError(
        f"SMTP {endpoint.where}: {exc or type(exc).__name__} ({type(exc).__name__})"
    )


def connect_error(exc: BaseException, endpoint: SmtpEndpoint) -> ChannelUnavailable:
    """The error for a connection that could not be opened (or logged in)."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        source = (
            f"the {endpoint.password_env} environment variable"
            if endpoint.password_env
            else "the password"
        )
        return ChannelUnavailable(
            f"SMTP authentication failed for user '{endpoint.username}' at {endpoint.where}: "
            f"{_reply(exc)}; check channels.email.username and {source}"
        )
    if isinstance(exc, ssl.SSLError) or "TLS" in type(exc).__name__:
        return ChannelUnavailable(f"TLS with the SMTP server {endpoint.where} failed: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return ChannelUnavailable(f"the SMTP server {endpoint.where} refused us: {_reply(exc)}")
    return ChannelUnavailable(
        f"cannot connect to the SMTP server {endpoint.where}: {exc or type(exc).__name__}"
    )


class SmtpPool:
    """At most ``size`` open connections, shared by concurrent senders."""

    def __init__(self, endpoint: SmtpEndpoint, size: int) -> None:
        self.endpoint = endpoint
        self.size = size
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots: asyncio.Semaphore | None = None
        self._connecting: asyncio.Lock | None = None
        self._failures = 0
        self._failure: ChannelUnavailable | None = None
        self._failed_at = 0.0
        self.opened = 0  # connections opened so far (for tests and metrics)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        return self._slots

    async def _connect_once(self) -> aiosmtplib.SMTP:
        """Connect, one at a time; senders that waited while a connect failed fail too.

        So a server that refuses us (or an AUTH that fails) is tried once per burst of
        messages (and at most once per FAILURE_COOLDOWN), not once per message.
        """
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        seen = self._failures
        async with self._connecting:
            now = asyncio.get_running_loop().time()
            if self._failure is not None and (
                self._failures != seen or now < self._failed_at + FAILURE_COOLDOWN
            ):
                raise ChannelUnavailable(str(self._failure))
            try:
                client = await self._connect()
            except ChannelUnavailable as exc:
                self._failures += 1
                self._failure = exc
                self._failed_at = asyncio.get_running_loop().time()
                raise
            self._failure = None
            return client

    async def _connect(self) -> aiosmtplib.SMTP:
        e = self.endpoint
        try:
            password = secret(e.password_env, "channels.email.password_env")
        except ConfigError as exc:
            raise ChannelUnavailable(str(exc)) from None
        client = aiosmtplib.SMTP(
            hostname=e.host,
            port=e.port,
            use_tls=e.security == "tls",
            start_tls=e.security == "starttls",
            tls_context=e.tls_context,
            timeout=e.timeout,
            username=e.username,
            password=password,
        )
        try:
            await client.connect()
        except Exception as exc:
            client.close()
            raise connect_error(exc, e) from exc
        self.opened += 1
        return client

    async def send(
        self, message: bytes, sender: str, recipient: str, *, utf8: bool = False
    ) -> None:
        """Send one message (its bytes) over a pooled connection; raise patron's errors."""
        options = ["SMTPUTF8"] if utf8 else None

        async def attempt(client: aiosmtplib.SMTP) -> None:
            await client.sendmail(sender, [recipient], message, mail_options=options)

        await self.run(attempt)

    async def run(self, action: Callable[[aiosmtplib.SMTP], Awaitable[T]]) -> T:
        async with self._semaphore():
            for fresh in (False, True):
                client = (
                    self._idle.pop() if self._idle and not fresh else await self._connect_once()
                )
                try:
                    result = await action(client)
                except aiosmtplib.SMTPServerDisconnected as exc:
                    client.close()
                    if not fresh:
                        continue  # closed while idle: one more try on a new connection
                    raise classify(exc, self.endpoint) from exc
                except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
                    self._keep(client)  # aiosmtplib sent RSET: the connection is usable
                    raise classify(exc, self.endpoint) from exc
                except Exception as exc:
                    client.close()
                    raise classify(exc, self.endpoint) from exc
                self._keep(client)
                return result
        raise AssertionError("unreachable")

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await asyncio.wait_for(client.quit(), timeout=2)
            except Exception:
                client.close()


__all__ = ["SmtpEndpoint", "SmtpPool", "classify", "connect_error"]
