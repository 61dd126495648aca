"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), for patron's tests and plugin authors'.

Loaded with :mod:`core.testing` (``pytest_plugins``), so any test can ask for:

``smtp_server``   an :class:`SmtpSink` listening on 127.0.0.1 (plain SMTP, no AUTH);
                  ``smtp_server.messages`` are the received :class:`ReceivedMail`
``smtp_sink``     a factory for other set-ups: ``smtp_sink(tls="starttls", auth={"u": "pw"})``
``tls_files``     a self-signed certificate and key for 127.0.0.1/localhost (cert, key paths)

An :class:`SmtpSink` can be scripted: ``sink.replies["rcpt"].append("451 4.3.0 Try later")``
answers the next RCPT with that reply; ``sink.delay`` slows every DATA down; ``stop()``
and ``start()`` take it down and bring it back on the same port. Loopback only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server received it."""

    sender: str
    recipients: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def self_signed_cert(directory: Path, host: str = HOST) -> tuple[Path, Path]:
    """A certificate for ``host`` and localhost, signed by itself (use it as the CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patron test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.sink._next_reply("rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        reply = self.sink._next_reply("data")
        if reply is not None:
            return reply
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.sink._lock:
            self.sink.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed)
            )
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    """An aiosmtpd server in a thread; see the module docstring."""

    tls: str | None = None  # None, "starttls" or "tls"
    cert: tuple[Path, Path] | None = None
    auth: dict[str, str] | None = None  # user → password; AUTH required when given
    delay: float = 0.0
    port: int = field(default_factory=free_port)
    messages: list[ReceivedMail] = field(default_factory=list)
    replies: dict[str, list[str]] = field(default_factory=lambda: {"rcpt": [], "data": []})
    logins: list[tuple[str, bool]] = field(default_factory=list)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _next_reply(self, command: str) -> str | None:
        with self._lock:
            queue = self.replies[command]
            return queue.pop(0) if queue else None

    def _context(self) -> ssl.SSLContext:
        assert self.cert is not None, "TLS needs cert=(cert_path, key_path)"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
        return context

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = self.auth.get(user) == password
        self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpSink:
        """Listen on 127.0.0.1:``port`` (the same port again after :meth:`stop`)."""
        options: dict[str, Any] = {}
        if self.tls == "starttls":
            options.update(tls_context=self._context(), require_starttls=True)
        if self.auth is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls == "starttls",  # aiosmtpd cannot see implicit TLS
            )
        controller = Controller(
            _Handler(self),
            hostname=HOST,
            port=self.port,
            ssl_context=self._context() if self.tls == "tls" else None,
            server_hostname=HOST,
            ready_timeout=5.0,
            **options,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def message_ids(self) -> list[str]:
        with self._lock:
            return [m.message_id for m in self.messages]

    def settings(self, **extra: Any) -> dict[str, Any]:
        """``channels.email`` settings that reach this server."""
        base: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "security": self.tls or "none",
            "from": "Patron Care <care@example.com>",
        }
        if self.cert is not None:
            base["ca_file"] = str(self.cert[0])
        return {**base, **extra}


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path / "tls")


@pytest.fixture
def smtp_sink() -> Iterator[Callable[..., SmtpSink]]:
    """Start SMTP servers with any options; all are stopped after the test."""
    started: list[SmtpSink] = []

    def make(**options: Any) -> SmtpSink:
        sink = SmtpSink(**options).start()
        started.append(sink)
        return sink

    try:
        yield make
    finally:
        for sink in started:
            sink.stop()


@pytest.fixture
def smtp_server(smtp_sink: Callable[..., SmtpSink]) -> SmtpSink:
    """A plain SMTP server on 127.0.0.1 that accepts and keeps every message."""
    return smtp_sink()


__all__ = ["ReceivedMail", "SmtpSink", "free_port", "self_signed_cert"]
