"""The daemon's counters, served in Prometheus text format on localhost.

::

    daemon:
      metrics: {enabled: true, port: 9464}     # http://127.0.0.1:9464/metrics, /health

============================================  ================================================
``patron_cycles_total{outcome}``              cycles run (``ok``, ``skipped``: another holds the lock, ``error``)
``patron_rule_matches_total{rule}``           new firings written to the ledger
``patron_messages_sent_total{channel}``       messages delivered
``patron_messages_suppressed_total{reason}``  suppressed, by kind of reason (``consent``, ``caps`` ...)
``patron_messages_failed_total{channel}``     failed for good
``patron_messages_retried_total``             transient failures, retried later
``patron_messages_deferred_total``            deferred by quiet hours
``patron_messages_held_total``                held by the blast-radius guard
``patron_queue_depth{state}``                 pending messages: ``due`` now or ``waiting``
``patron_delivery_latency_seconds``           histogram: firing to send
``patron_reloads_total{outcome}``             rule/template reloads ``applied`` / ``rejected``
``patron_last_cycle_timestamp_seconds``       when the last cycle finished
============================================  ================================================
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Iterable

from core.delivery.summary import DeliverySummary

LATENCY_BUCKETS = (1, 5, 30, 60, 300, 900, 3600, 21600, 86400)
_REASON_KINDS = (
    ("no consent", "consent"),
    ("unsubscribed", "unsubscribed"),
    ("frequency cap", "frequency_cap"),
    ("expired", "expired"),
    ("invalid", "invalid_address"),
    ("no ", "no_address"),
    ("cancelled", "cancelled"),
)


def reason_kind(reason: str) -> str:
    """A short, bounded label for a suppression reason (reasons themselves carry details)."""
    for start, kind in _REASON_KINDS:
        if start in reason[:40]:
            return kind
    return "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """In-process counters; :meth:`render` gives the Prometheus text exposition."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self.gauges: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self.latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.help: dict[str, tuple[str, str]] = {}

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        self.counters[name][tuple(sorted(labels.items()))] += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self.gauges[name][tuple(sorted(labels.items()))] = value

    def observe_latency(self, seconds: Iterable[float]) -> None:
        for value in seconds:
            index = next(
                (i for i, b in enumerate(LATENCY_BUCKETS) if value <= b), len(LATENCY_BUCKETS)
            )
            self.latency[index] += 1
            self.latency_sum += value
            self.latency_count += 1

    def delivery(self, summary: DeliverySummary) -> None:
        """Count one delivery run."""
        for channel, count in summary.sent_by_channel.items():
            self.inc("patron_messages_sent_total", count, channel=channel)
        for channel, count in summary.failed_by_channel.items():
            self.inc("patron_messages_failed_total", count, channel=channel)
        unlabelled = summary.failed - sum(summary.failed_by_channel.values())
        if unlabelled:
            self.inc("patron_messages_failed_total", unlabelled, channel="unknown")
        for reason, count in summary.suppressed.items():
            self.inc("patron_messages_suppressed_total", count, reason=reason_kind(reason))
        for name, value in (
            ("patron_messages_retried_total", summary.retried),
            ("patron_messages_deferred_total", summary.deferred),
            ("patron_messages_held_total", summary.held),
        ):
            if value:
                self.inc(name, value)
        self.observe_latency(summary.latencies)

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self.counters):
            lines.append(f"# TYPE {name} counter")
            lines.extend(self._samples(name, self.counters[name]))
        for name in sorted(self.gauges):
            lines.append(f"# TYPE {name} gauge")
            lines.extend(self._samples(name, self.gauges[name]))
        name = "patron_delivery_latency_seconds"
        lines.append(f"# HELP {name} Seconds from a rule firing to its message being sent.")
        lines.append(f"# TYPE {name} histogram")
        running = 0
        for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), self.latency, strict=True):
            running += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
        lines.append(f"{name}_sum {self.latency_sum:g}")
        lines.append(f"{name}_count {self.latency_count}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _samples(name: str, values: dict[tuple[tuple[str, str], ...], float]) -> list[str]:
        out = []
        for labels, value in sorted(values.items()):
            shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            out.append(f"{name}{{{shown}}} {value:g}" if shown else f"{name} {value:g}")
        return out


class MetricsServer:
    """``GET /metrics`` and ``GET /health`` on a loopback address (asyncio, no framework)."""

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], dict[str, object]],
        host: str,
        port: int,
        *,
        refresh: Callable[[], None] | None = None,
    ) -> None:
        self.metrics, self.health, self.host, self.port = metrics, health, host, port
        self.refresh = refresh  # run (in a thread) before /metrics renders: gauges from the store
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path == "/metrics":
                if self.refresh is not None:
                    await asyncio.to_thread(self.refresh)
                status, kind, body = "200 OK", "text/plain; version=0.0.4", self.metrics.render()
            elif path == "/health":
                status, kind, body = "200 OK", "application/json", json.dumps(self.health())
            else:
                status, kind, body = "404 Not Found", "text/plain", "try /metrics or /health\n"
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


__all__ = ["LATENCY_BUCKETS", "Metrics", "MetricsServer", "reason_kind"]
