"""The store: tables, engine factory and schema management.

Instants are stored as integer seconds since the Unix epoch (UTC). That keeps
date arithmetic in rule SQL plain integer arithmetic, identical on SQLite and
PostgreSQL, and fast on SQLite (no text parsing per row). Money is integer
minor units (fen, cents), never a float.
"""

from __future__ import annotations

from core.store.engine import Store, open_store
from core.store.tables import (
    ActionArgs,
    Customer,
    CycleRun,
    Event,
    KeptSet,
    LedgerEntry,
    LedgerStatus,
    Meta,
    RuleRun,
)

__all__ = [
    "ActionArgs",
    "Customer",
    "CycleRun",
    "Event",
    "KeptSet",
    "LedgerEntry",
    "LedgerStatus",
    "Meta",
    "RuleRun",
    "Store",
    "open_store",
]
