"""SQLModel tables of the store.

``events`` is append-only: corrections arrive as new events (a ``refund``, a
``complaint_reopened``), never as updates. ``ledger`` has one row per action of
one firing; its ``idempotency_key`` is UNIQUE, which is what makes a cycle safe
to repeat. A firing's action arguments are the row's own ``args`` over the shared
ones it names in ``action_args`` (:mod:`core.store.ledger_args`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, SmallInteger, Table
from sqlmodel import Field, SQLModel

# BIGINT everywhere, but SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _json_column(nullable: bool = True) -> Any:
    return Column(JSON, nullable=nullable)


class Customer(SQLModel, table=True):
    """A person or account the company cares for."""

    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=128, unique=True, index=True)
    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    birthday: dt.date | None = None
    birth_month: int | None = Field(default=None, sa_type=SmallInteger)
    birth_day: int | None = Field(default=None, sa_type=SmallInteger)
    joined_at: int | None = Field(default=None, sa_type=BigInteger)
    account_manager: str | None = Field(default=None, max_length=128)
    consent: dict[str, bool] = Field(default_factory=dict, sa_column=_json_column(nullable=False))
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column(nullable=False))


class Event(SQLModel, table=True):
    """Something that happened to a customer at an instant (append-only)."""

    __tablename__ = "events"
    __table_args__ = (
        # Serves every per-customer aggregate: GROUP BY customer over one type, by time,
        # from the index alone for amounts and scores. Without them in it each event is
        # a lookup of its row, and where events arrive in time order (as exports do) those
        # lookups land all over the table: the cold cycle's features took 59 s, not 34.
        Index("ix_events_per_customer", "customer_id", "type", "occurred_at", "amount", "value"),
        # Serves every question by time across customers (what became due, what left a
        # window, the events of the last N days), from the index alone: without type,
        # customer and amount in it each event found is a lookup of its row.
        Index("ix_events_time_type", "occurred_at", "type", "customer_id", "amount"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id")
    type: str = Field(max_length=48)
    occurred_at: int = Field(sa_type=BigInteger)
    amount: int | None = Field(default=None, sa_type=BigInteger, description="minor units")
    value: int | None = Field(default=None, description="score, quantity or level")
    ref: str | None = Field(default=None, max_length=128, description="order or ticket reference")
    payload: dict[str, Any] | None = Field(default=None, sa_column=_json_column())
    source_key: str = Field(max_length=64, unique=True, description="import idempotency key")


class LedgerStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class ActionArgs(SQLModel, table=True):
    """Action arguments shared by many ledger rows, stored once (interned by digest).

    Every firing of one action of one rule has the same arguments (a channel and a
    template, a coupon's value); written on each of a cold cycle's 2.5 million ledger
    rows they were a third of the ledger's bytes."""

    __tablename__ = "action_args"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True, description="SHA-256 of the canonical JSON")
    args: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column(nullable=False))


class LedgerEntry(SQLModel, table=True):
    """One action of one firing of a rule for a customer: the record made before any effect."""

    __tablename__ = "ledger"
    __table_args__ = (
        Index("ix_ledger_status_due", "status", "next_attempt_at"),
        Index("ix_ledger_rule_customer", "rule_id", "customer_id", "created_at"),
        # No index of a cycle's firings: an action's effect finds the rows its insert
        # wrote by a range of ids (core.cycle).
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    idempotency_key: str = Field(max_length=255, unique=True)
    cycle_id: int | None = None
    rule_id: str = Field(max_length=128)
    customer_id: int = Field(foreign_key="customers.id")
    period: str = Field(max_length=64)
    action_index: int = 0
    action: str = Field(max_length=64)
    category: str = Field(max_length=32)
    priority: int = 0
    status: str = Field(default=LedgerStatus.PENDING, max_length=16)
    attempts: int = 0
    created_at: int = Field(sa_type=BigInteger, description="the firing's as-of instant")
    next_attempt_at: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: int | None = Field(default=None, sa_type=BigInteger)
    sent_at: int | None = Field(default=None, sa_type=BigInteger)
    last_error: str | None = None
    suppressed_reason: str | None = Field(default=None, max_length=255)
    # The row's own arguments (an escalation's ticket and episode); the shared ones are
    # in args_id's row, and where both name a key the row's own value wins. No foreign
    # key: action_args rows are never deleted, and a cycle writes millions of ledger rows.
    args: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column(nullable=False))
    args_id: int | None = Field(default=None, description="action_args.id")


class CycleRun(SQLModel, table=True):
    """One evaluation of the rules as of an instant."""

    __tablename__ = "cycles"

    id: int | None = Field(default=None, primary_key=True)
    as_of: int = Field(sa_type=BigInteger)
    started_at: int = Field(sa_type=BigInteger)
    finished_at: int | None = Field(default=None, sa_type=BigInteger)
    customers: int = 0
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column(nullable=False))


class RuleRun(SQLModel, table=True):
    """When each rule was last evaluated, so a schedule knows whether it is due."""

    __tablename__ = "rule_runs"

    rule_id: str = Field(primary_key=True, max_length=128)
    last_as_of: int = Field(sa_type=BigInteger)


class KeptSet(SQLModel, table=True):
    """Where a kept feature set's rows (table ``kept_<name>``) stand: the instant they
    are of, and the last event they include."""

    __tablename__ = "kept_sets"

    name: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64, description="the set's definition; other = rebuild")
    as_of: int = Field(sa_type=BigInteger)
    watermark: int = Field(sa_type=BigInteger, description="highest event id included")


class Meta(SQLModel, table=True):
    """Key/value facts about the store itself, such as its schema version."""

    __tablename__ = "patron_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy Core table behind a SQLModel table class (for set-based SQL)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]
