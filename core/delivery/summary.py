"""What one delivery run did (printed by the CLI, counted by the daemon's metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DeliverySummary:
    """Counts of one delivery run; ``latencies`` are seconds from firing to send."""

    sent: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)  # by reason
    failed: int = 0
    retried: int = 0
    deferred: int = 0  # quiet hours: still pending, due later
    held: int = 0  # blast radius: waiting for `patron release`
    released: int = 0  # claimed, then given back unsent (shutdown)
    sent_by_channel: dict[str, int] = field(default_factory=dict)
    failed_by_channel: dict[str, int] = field(default_factory=dict)
    latencies: list[int] = field(default_factory=list)

    @property
    def suppressed_total(self) -> int:
        return sum(self.suppressed.values())

    @property
    def total(self) -> int:
        return (
            self.sent
            + self.suppressed_total
            + self.failed
            + self.retried
            + self.deferred
            + self.held
            + self.released
        )

    def suppress(self, reason: str) -> None:
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1

    def count_sent(self, channel: str, latency: int) -> None:
        self.sent += 1
        self.sent_by_channel[channel] = self.sent_by_channel.get(channel, 0) + 1
        self.latencies.append(latency)

    def count_failed(self, channel: str | None) -> None:
        self.failed += 1
        if channel:
            self.failed_by_channel[channel] = self.failed_by_channel.get(channel, 0) + 1


__all__ = ["DeliverySummary"]
