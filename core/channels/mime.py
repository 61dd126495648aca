"""MIME messages written straight to bytes: plain text, optionally an HTML alternative.

The standard library's ``email`` package parses and re-folds every header through its
header registry; at delivery rates that costs more than the SMTP exchange. Patron's
messages have a fixed shape, so they are written directly (RFC 5322 / 2045-2047):
ASCII header values as they are, others as UTF-8 encoded words; bodies as 7bit when
they are short-lined ASCII, base64 otherwise; CRLF line ends; a multipart boundary
derived from the Message-ID, so the same message always has the same bytes.
"""

from __future__ import annotations

import base64
import email.header
import email.utils
import hashlib
from collections.abc import Sequence

CRLF = "\r\n"
MAX_LINE = 998


def header_value(value: str) -> str:
    """One header value: newlines removed; non-ASCII (or very long) text encoded."""
    flat = " ".join(value.split())
    if flat.isascii() and len(flat) < 900:
        return flat
    return email.header.Header(flat, "utf-8", maxlinelen=76).encode(linesep=CRLF)


def address_header(text: str) -> str:
    """``Name <addr>`` with a non-ASCII name encoded; a bare address as it is."""
    name, address = email.utils.parseaddr(text)
    if not name:
        return address or header_value(text)
    return email.utils.formataddr((name, address), charset="utf-8")


def _part(content_type: str, text: str) -> tuple[list[tuple[str, str]], str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if text.isascii() and all(len(line) <= MAX_LINE for line in lines):
        headers = [
            ("Content-Type", f'{content_type}; charset="us-ascii"'),
            ("Content-Transfer-Encoding", "7bit"),
        ]
        return headers, CRLF.join(lines)
    encoded = base64.encodebytes("\n".join(lines).encode("utf-8")).decode("ascii")
    headers = [
        ("Content-Type", f'{content_type}; charset="utf-8"'),
        ("Content-Transfer-Encoding", "base64"),
    ]
    return headers, encoded.replace("\n", CRLF).rstrip(CRLF)


def _head(headers: Sequence[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}{CRLF}" for name, value in headers)


def mime_bytes(
    headers: Sequence[tuple[str, str]],
    body: str,
    html: str | None,
    message_id: str,
    *,
    utf8: bool = False,
) -> bytes:
    """The whole message: ``headers`` (already valid values), then the text (and HTML).

    ``utf8``: headers may hold UTF-8 as it is (RFC 6532; the server must offer SMTPUTF8).
    """
    charset = "utf-8" if utf8 else "ascii"
    text_headers, text = _part("text/plain", body)
    if not html:
        head = _head([*headers, ("MIME-Version", "1.0"), *text_headers])
        return (head + CRLF + text + CRLF).encode(charset)
    html_headers, html_text = _part("text/html", html)
    boundary = "=_patron_" + hashlib.sha1(message_id.encode()).hexdigest()[:24]
    while boundary in text or boundary in html_text:
        boundary += "_"
    parts = [
        _head(headers)
        + _head(
            [
                ("MIME-Version", "1.0"),
                ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
            ]
        ),
        f"--{boundary}{CRLF}" + _head(text_headers) + CRLF + text + CRLF,
        f"--{boundary}{CRLF}" + _head(html_headers) + CRLF + html_text + CRLF,
        f"--{boundary}--{CRLF}",
    ]
    return (parts[0] + CRLF + "".join(parts[1:])).encode(charset)


__all__ = ["address_header", "header_value", "mime_bytes"]
