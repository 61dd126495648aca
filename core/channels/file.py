"""The ``file`` channel: every message written as a file into the outbox directory.

The default for demos and dry runs. Each message becomes one UTF-8 file named after
its ledger idempotency key, with e-mail style headers, a blank line and the body.
Writing is atomic (temporary file, then rename), and writing the same message again
replaces the file with identical content, so a retried delivery cannot duplicate it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.config import Settings
from core.vocabulary import Channel, ChannelType, OutgoingMessage

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileChannelSettings(BaseModel):
    """Settings of the ``file`` channel (``channels: {file: {...}}`` in patron.yaml)."""

    model_config = ConfigDict(extra="forbid")

    directory: Path | None = Field(default=None, description="Defaults to outbox_dir.")
    address: Literal["email", "phone", "external_id"] = Field(
        default="email", description="Which customer field is the recipient."
    )


def outbox_file_name(idempotency_key: str) -> str:
    """A file name that is safe on every file system and unique per key."""
    digest = hashlib.sha1(idempotency_key.encode()).hexdigest()[:10]
    return f"{_UNSAFE.sub('_', idempotency_key)[:120]}-{digest}.txt"


def format_message(message: OutgoingMessage) -> str:
    headers = {
        "Message-ID": message.message_id,
        "To": message.to,
        "Subject": message.subject,
        "X-Patron-Rule": message.rule_id,
        "X-Patron-Customer": message.customer_external_id,
        "Content-Language": message.locale,
        **message.headers,
    }
    head = "".join(f"{k}: {v}\n" for k, v in headers.items() if v)
    body = message.body if message.body.endswith("\n") else message.body + "\n"
    if message.html:
        body += "\n--- html ---\n" + message.html + ("" if message.html.endswith("\n") else "\n")
    return head + "\n" + body


class FileChannel:
    """Writes messages into a directory."""

    def __init__(self, name: str, directory: Path, address: str) -> None:
        self.name = name
        self.directory = directory
        self.address = address

    def address_of(self, customer: dict[str, Any]) -> str | None:
        value = customer.get(self.address)
        return str(value) if value else None

    async def send(self, message: OutgoingMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / outbox_file_name(message.idempotency_key)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(format_message(message), encoding="utf-8")
        os.replace(tmp, target)

    async def close(self) -> None:
        return None


def make_file_channel(settings: BaseModel, patron_settings: Settings) -> Channel:
    assert isinstance(settings, FileChannelSettings)
    directory = (
        patron_settings.resolve(settings.directory)
        if settings.directory
        else patron_settings.outbox
    )
    return FileChannel("file", directory, settings.address)


FILE = ChannelType(
    name="file",
    description="Write each message into the outbox directory (demos, dry runs, audits).",
    settings=FileChannelSettings,
    factory=make_file_channel,
    consent_key="email",
)

__all__ = ["FILE", "FileChannel", "FileChannelSettings", "format_message", "outbox_file_name"]
