"""Structured logs: one JSON object per line, with no full e-mail address or phone number.

Every record carries ``ts``, ``level``, ``event`` (``message.sent``, ``cycle.finished``
...), ``msg``, and whatever ids the code attached (``rule``, ``customer``, ``ledger``,
``channel`` ...). Addresses are masked twice: fields named ``to``, ``email`` or ``phone``
always, and anything in the text that looks like an e-mail address or a phone number::

    {"ts": "2026-11-23T09:00:02.113Z", "level": "info", "event": "message.sent",
     "msg": "message sent", "ledger": 4211, "rule": "birthday-greeting",
     "customer": "C-10442", "channel": "email", "to": "l***@example.com"}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

_EMAIL = re.compile(
    r"([A-Za-z0-9._%+\-\u0080-\uffff])[A-Za-z0-9._%+\-\u0080-\uffff]*@([A-Za-z0-9.\-\u0080-\uffff]+\.[A-Za-z\u0080-\uffff]{2,})"
)
# "+" and 8+ digits (spaces and dashes allowed), or a bare run of 11+ digits (a mobile number)
_PHONE = re.compile(r"(?<![\w+])(\+\d[\d \-]{3,}|\d{7,})(\d{4})(?!\w)")
_ADDRESS_FIELDS = ("to", "email", "phone")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def mask_email(text: str) -> str:
    """``lin.xiaohong@example.com`` → ``l***@example.com`` (everywhere in ``text``)."""
    return _EMAIL.sub(r"\1***@\2", text)


def mask_phone(text: str) -> str:
    """``+8613800138000`` → ``*********8000`` (keeps the last four digits)."""
    return _PHONE.sub(lambda m: "*" * len(re.sub(r"\D", "", m.group(1))) + m.group(2), text)


def scrub(value: Any) -> Any:
    return mask_phone(mask_email(value)) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "ts": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
            "msg": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key in entry or key.startswith("_"):
                continue
            entry[key] = scrub(str(value)) if key in _ADDRESS_FIELDS else scrub(value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = scrub(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-23 09:00:02 info message.sent rule=... msg`` (same masking), for terminals."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M:%S")
        fields = " ".join(
            f"{k}={scrub(str(v))}"
            for k, v in vars(record).items()
            if k not in _STANDARD and k != "event" and not k.startswith("_")
        )
        event = getattr(record, "event", record.name)
        return f"{stamp} {record.levelname.lower()} {event} {fields} {scrub(record.getMessage())}".replace(
            "  ", " "
        )


def setup_logging(kind: str = "json", level: int = logging.INFO, stream: Any = None) -> None:
    """Send patron's logs (``patron.*`` and the root) to ``stream`` (stderr) in ``kind``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if kind == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("apscheduler", "mail.log", "httpx", "httpcore", "aiosmtplib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


__all__ = ["JsonFormatter", "TextFormatter", "mask_email", "mask_phone", "scrub", "setup_logging"]
