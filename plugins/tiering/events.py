"""The event types the tiering plugin adds (``patron import events`` accepts them)."""

from __future__ import annotations

from core.vocabulary import EventType

TIERING_EVENT_TYPES = [
    EventType(
        "tier_changed",
        "The customer's tier changed (written by the tiering stage): ref is the new tier, "
        "payload {from, to, change}.",
        ("ref",),
        derived=True,
    ),
    EventType(
        "points_redeemed",
        "The customer spent loyalty points: value is the number of points, ref the order.",
        ("value", "ref"),
    ),
    EventType("coupon_redeemed", "The customer used a coupon: ref is its code.", ("ref",)),
    EventType(
        "referral",
        "The customer referred someone who became a customer: ref is the new customer's id.",
        ("ref",),
    ),
]

__all__ = ["TIERING_EVENT_TYPES"]
