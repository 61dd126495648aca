"""Delivery: the outbox worker that sends the ledger's pending messages through channels.

    deliver(store, registry, settings, catalog, now=...)  →  DeliverySummary

See :mod:`core.delivery.outbox` for the guarantees (record before effect, at most the
messages in flight repeated after a crash, with the same Message-ID),
:mod:`core.delivery.channels` for how channels are configured, :mod:`core.guards` for
the send-time guards and :mod:`core.delivery.recipients` for ``send: {to: ...}``.
"""

from __future__ import annotations

from core.delivery.channels import attach_channels, build_channels, channel_settings
from core.delivery.ids import backoff_seconds, message_id
from core.delivery.outbox import DEFAULT_MAX_ATTEMPTS, deliver, deliver_pending
from core.delivery.render import render_preview
from core.delivery.summary import DeliverySummary
from core.delivery.worker import DeliveryState

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DeliveryState",
    "DeliverySummary",
    "attach_channels",
    "backoff_seconds",
    "build_channels",
    "channel_settings",
    "deliver",
    "deliver_pending",
    "message_id",
    "render_preview",
]
