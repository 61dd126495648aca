"""Channels that record instead of sending: rule tests and backtests use the real outbox
(guards, rendering, ledger bookkeeping) with these in place of the configured channels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.config import Settings
from core.cycle import CycleSummary, run_cycle
from core.delivery.channels import address_field, build_channels
from core.delivery.outbox import deliver
from core.errors import ConfigError
from core.registry import Registry
from core.vocabulary import Channel, OutgoingMessage

# Whose address a channel uses when it is not configured (its own settings decide otherwise).
DEFAULT_ADDRESS = {
    "email": "email",
    "sms": "phone",
    "webhook": "external_id",
    "task": "account_manager",
    "file": "email",
}


class RecordingChannel:
    """Accepts every message into ``sent``; finds addresses as the real channel would."""

    def __init__(
        self,
        name: str,
        address_of: Callable[[dict[str, Any]], str | None],
        sent: list[OutgoingMessage],
        address_field: str | None = None,
    ) -> None:
        self.name = name
        self._address_of = address_of
        self.sent = sent
        self.address_field = address_field  # names the field in "no email address"

    def address_of(self, customer: dict[str, Any]) -> str | None:
        return self._address_of(customer)

    async def send(self, message: OutgoingMessage) -> None:
        self.sent.append(message)

    async def close(self) -> None:
        return None


def recording_channels(
    registry: Registry, settings: Settings, sent: list[OutgoingMessage]
) -> dict[str, Channel]:
    """A recording stand-in for every registered channel.

    A channel configured in ``settings`` lends its own address lookup (so ``file`` with
    ``address: phone`` looks at phones); any other uses :data:`DEFAULT_ADDRESS`.
    """
    try:
        configured = build_channels(registry, settings)
    except ConfigError:
        configured = {}
    channels: dict[str, Channel] = {}
    for name in registry.channels.names():
        real = configured.get(name)
        if real is not None:
            channels[name] = RecordingChannel(name, real.address_of, sent, address_field(real))
            continue
        field = DEFAULT_ADDRESS.get(name, "email")

        def lookup(customer: dict[str, Any], field: str = field) -> str | None:
            value = customer.get(field)
            return str(value) if value else None

        channels[name] = RecordingChannel(name, lookup, sent, field)
    return channels


def cycle_then_deliver(
    app: Any, rules: Any, as_of: int, channels: Mapping[str, Channel]
) -> CycleSummary:
    """What ``patron run --once`` does at ``as_of``, with the given (recording) channels:
    a cycle (schedules decide which rules are due), then a delivery run."""
    summary = run_cycle(
        app.store, app.registry, app.settings, rules, as_of, pm=app.pm, clock=lambda: as_of
    )
    deliver(
        app.store,
        app.registry,
        app.settings,
        app.catalog,
        now=as_of,
        channels=channels,
        rule_descriptions={r.id: r.description for r in rules.rules},
    )
    return summary
