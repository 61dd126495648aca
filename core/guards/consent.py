"""Consent: per customer, per channel and per category, as of the moment of sending.

Three sources, checked in this order (the first that says no wins):

1. ``customer.consent[<channel consent key>] is false`` (``email``, ``sms``) →
   ``no consent for sms``;
2. ``customer.consent[<category>] is false`` (``marketing`` ...), or the category is
   listed under ``delivery.consent.opt_in`` and the customer never said yes →
   ``no consent for marketing``;
3. the latest ``unsubscribe``/``subscribe`` event that applies: an event's payload may
   name a ``channel`` (``email``, or a channel's own name) and a ``category``; a missing
   key applies to all. An unsubscribe without a category stops every category but
   ``transactional``; ``{category: marketing}`` stops marketing only, so care and service
   messages still reach the customer.

Events count from the instant they occurred, so an unsubscribe imported between the
cycle and the send takes effect before the send. ``transactional`` messages (receipts,
security notices) are never gated by consent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRANSACTIONAL = "transactional"


@dataclass(frozen=True)
class ConsentEvent:
    """One ``subscribe``/``unsubscribe`` event, in time order."""

    kind: str  # "subscribe" or "unsubscribe"
    channel: str | None
    category: str | None

    @classmethod
    def from_payload(cls, kind: str, payload: Any) -> ConsentEvent:
        data = payload if isinstance(payload, dict) else {}
        channel, category = data.get("channel"), data.get("category")
        return cls(
            kind,
            channel if isinstance(channel, str) else None,
            category if isinstance(category, str) else None,
        )


def unsubscribed(
    events: Sequence[ConsentEvent], scopes: Collection[str], category: str | None = None
) -> ConsentEvent | None:
    """The unsubscribe in force for these channel names and this category, or None."""
    state: ConsentEvent | None = None
    for event in events:
        if event.channel is not None and event.channel not in scopes:
            continue
        if event.category is not None and event.category != category:
            continue
        state = event if event.kind == "unsubscribe" else None
    return state


def consent_reason(
    customer: Mapping[str, Any],
    events: Sequence[ConsentEvent],
    channel_name: str,
    consent_key: str | None,
    category: str,
    opt_in: Collection[str] = (),
) -> str | None:
    """Why this customer must not get a ``category`` message on this channel, or None."""
    if category == TRANSACTIONAL:
        return None
    consent = customer.get("consent") or {}
    if consent_key and consent.get(consent_key) is False:
        return f"no consent for {consent_key}"
    if consent.get(category) is False or (category in opt_in and consent.get(category) is not True):
        return f"no consent for {category}"
    scopes = {channel_name} | ({consent_key} if consent_key else set())
    event = unsubscribed(events, scopes, category)
    if event is None:
        return None
    if event.category is not None:
        return f"unsubscribed from {event.category} messages"
    return f"unsubscribed from {consent_key or channel_name}"


__all__ = ["ConsentEvent", "consent_reason", "unsubscribed"]
