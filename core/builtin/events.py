"""The event types every patron store accepts."""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.vocabulary import EventType

CORE_EVENT_TYPES = [
    EventType("purchase", "An order paid; amount is its value in minor units.", ("amount", "ref")),
    EventType("refund", "Money returned; amount is positive minor units.", ("amount", "ref")),
    EventType(
        "complaint_opened", "A complaint or service ticket opened; ref is the ticket id.", ("ref",)
    ),
    EventType("complaint_responded", "First (or further) response to a ticket.", ("ref",)),
    EventType("complaint_resolved", "A ticket resolved.", ("ref",)),
    EventType("complaint_reopened", "A resolved ticket reopened.", ("ref",)),
    EventType(
        "survey", "A satisfaction survey answered; value is the score (CSAT 1–5).", ("value", "ref")
    ),
    EventType("contact", "The company contacted the customer (call, visit, message).", ("ref",)),
    EventType("contact_replied", "The customer answered a contact.", ("ref",)),
    EventType(
        "unsubscribe",
        "The customer withdrew consent; payload.channel names the channel (all if absent).",
        (),
    ),
    EventType("subscribe", "The customer gave consent; payload.channel names the channel.", ()),
]


@hookimpl
def patron_event_types() -> list[EventType]:
    return list(CORE_EVENT_TYPES)
