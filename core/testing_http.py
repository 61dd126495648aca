"""A real HTTP server on 127.0.0.1 for tests of webhook and SMS-gateway channels.

``http_server`` (fixture) is an :class:`HttpSink`: ``http_server.url`` to post to,
``http_server.requests`` what arrived, ``http_server.responses.append((503, "busy"))``
scripts the next answers (default ``200 {"ok": true}``), ``http_server.delay`` slows
every answer down (for timeouts). Loopback only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class HttpSink:
    responses: list[tuple[int, str]] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
    delay: float = 0.0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_address[1]}/hook"

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    sink.requests.append(
                        ReceivedRequest(self.command, self.path, dict(self.headers), body)
                    )
                    status, text = (
                        sink.responses.pop(0) if sink.responses else (200, '{"ok": true}')
                    )
                if sink.delay:
                    time.sleep(sink.delay)
                payload = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer((HOST, 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def http_server() -> Iterator[HttpSink]:
    sink = HttpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


__all__ = ["HttpSink", "ReceivedRequest"]
