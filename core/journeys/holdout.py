"""Deterministic holdout assignment: a stable hash of (journey id, customer id) into 0–99.

The bucket is a multiplicative hash with a per-journey odd multiplier and offset taken
from SHA-256 of the journey id: ``((customer_id · A + B) mod 2³²) · 100 div 2³²``. It uses
the high bits of the product, so consecutive customer ids spread evenly over the buckets,
and it is plain integer arithmetic, identical in SQL on SQLite and PostgreSQL and in
Python. A customer is in the holdout when the bucket is below ``holdout_percent`` — the
same customer always lands in the same arm of the same journey, on every run and every
re-entry; different journeys hold out different customers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from core.hashing import MODULUS, big, hash32, hash32_sql


def _constants(journey_id: str) -> tuple[int, int]:
    digest = hashlib.sha256(journey_id.encode()).digest()
    multiplier = int.from_bytes(digest[:4], "big") | 1  # odd: a bijection mod 2³²
    offset = int.from_bytes(digest[4:8], "big")
    return multiplier, offset


def holdout_bucket(journey_id: str, customer_id: int) -> int:
    """The customer's bucket (0–99) for this journey."""
    return hash32(customer_id, *_constants(journey_id)) * 100 // MODULUS


def holdout_bucket_sql(journey_id: str, customer_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The same bucket in SQL (customer ids below 2³¹ keep every product within BIGINT)."""
    hashed = hash32_sql(customer_id, *_constants(journey_id))
    bucket: ColumnElement[Any] = (hashed * big(100)) // big(MODULUS)
    return bucket


__all__ = ["holdout_bucket", "holdout_bucket_sql"]
