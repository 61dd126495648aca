"""A stable multiplicative hash of customer ids, the same in Python and in SQL.

``(customer_id · multiplier + offset) mod 2³²`` with an odd multiplier is a bijection
on 32-bit values that spreads consecutive ids evenly; it is plain integer arithmetic,
identical on SQLite and PostgreSQL (customer ids below 2³¹ keep every product within
BIGINT). Journeys use it for their holdout arm, churn for its fit sample.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, literal
from sqlalchemy.sql.elements import ColumnElement

MODULUS = 2**32


def hash32(customer_id: int, multiplier: int, offset: int = 0) -> int:
    """The customer's hash in ``[0, 2³²)``."""
    return (customer_id * multiplier + offset) % MODULUS


def big(value: int) -> ColumnElement[Any]:
    """An integer literal typed BIGINT (PostgreSQL would otherwise overflow INTEGER)."""
    return literal(value, BigInteger())


def hash32_sql(
    customer_id: ColumnElement[Any], multiplier: int, offset: int = 0
) -> ColumnElement[Any]:
    """:func:`hash32` in SQL."""
    hashed: ColumnElement[Any] = (customer_id * big(multiplier) + big(offset)) % big(MODULUS)
    return hashed


__all__ = ["MODULUS", "big", "hash32", "hash32_sql"]
