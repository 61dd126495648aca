"""The blast-radius guard: a rule whose one cycle would message too many customers waits.

::

    delivery:
      blast_radius: {max_customers: 5000, max_share: 0.2, exempt_rules: [birthday-greeting]}

Before the first message of a rule's firing instant (one cycle) leaves, the outbox
counts the customers that firing addresses. Above ``max_customers``, or above
``max_share`` of all customers, the firing is *held*: a row in ``delivery_holds``, its
messages stay pending with the reason noted, nothing is sent, and the daemon logs it.
``patron release RULE`` lets them go; ``patron release RULE --cancel`` suppresses them.
Set ``blast_radius: null`` to turn the guard off.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Index, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from core.config import BlastRadius
from core.sql_exists import probe
from core.store import Customer, LedgerEntry, LedgerStatus
from core.store.tables import BigId, table_of

SEND = "send"


class DeliveryHold(SQLModel, table=True):
    """A rule's firing held back by the blast-radius guard until an operator decides."""

    __tablename__ = "delivery_holds"
    __table_args__ = (Index("ux_delivery_holds_firing", "rule_id", "fired_at", unique=True),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    rule_id: str = Field(max_length=128)
    fired_at: int = Field(sa_type=BigInteger, description="the ledger rows' created_at")
    customers: int
    reason: str = Field(max_length=255)
    held_at: int = Field(sa_type=BigInteger)
    released_at: int | None = Field(default=None, sa_type=BigInteger)
    outcome: str | None = Field(default=None, max_length=16, description="released or cancelled")


holds = table_of(DeliveryHold)
ledger = table_of(LedgerEntry)
customers = table_of(Customer)


def unheld() -> ColumnElement[bool]:
    """A WHERE clause for ledger rows whose firing is not held (used when claiming)."""
    return ~probe(
        holds.c.rule_id == ledger.c.rule_id,
        holds.c.fired_at == ledger.c.created_at,
        holds.c.released_at.is_(None),
    )


@dataclass
class BlastRadiusGuard:
    """Decides once per (rule, firing instant); remembers the firings it let go."""

    limits: BlastRadius | None
    decided: dict[tuple[str, int], str | None]

    @classmethod
    def from_settings(cls, limits: BlastRadius | None) -> BlastRadiusGuard:
        return cls(limits, {})

    def check(self, conn: Connection, rule_id: str, fired_at: int, now: int) -> str | None:
        """The hold reason for this firing, or None when it may go out."""
        if self.limits is None or rule_id in self.limits.exempt_rules:
            return None
        key = (rule_id, fired_at)
        if key in self.decided:
            return None
        if len(self.decided) > 10000:  # a long-running daemon: forget old firings
            self.decided = {k: v for k, v in self.decided.items() if k[1] > fired_at - 7 * 86400}
        reason = self._decide(conn, rule_id, fired_at, now)
        if reason is None:  # holds are not remembered: an operator may release them any time
            self.decided[key] = None
        return reason

    def _decide(self, conn: Connection, rule_id: str, fired_at: int, now: int) -> str | None:
        assert self.limits is not None
        earlier = conn.execute(
            select(holds.c.released_at, holds.c.reason).where(
                holds.c.rule_id == rule_id, holds.c.fired_at == fired_at
            )
        ).first()
        if earlier is not None:
            return None if earlier.released_at is not None else earlier.reason
        reached = conn.execute(
            select(func.count(func.distinct(ledger.c.customer_id))).where(
                ledger.c.rule_id == rule_id,
                ledger.c.created_at == fired_at,
                ledger.c.action == SEND,
            )
        ).scalar_one()
        reason = None
        if self.limits.max_customers is not None and reached > self.limits.max_customers:
            reason = f"held: rule would message {reached} customers in one cycle (limit {self.limits.max_customers})"
        elif self.limits.max_share is not None:
            base = conn.execute(select(func.count()).select_from(customers)).scalar_one()
            if base and reached / base > self.limits.max_share:
                reason = (
                    f"held: rule would message {reached} of {base} customers "
                    f"({reached / base:.0%}, limit {self.limits.max_share:.0%})"
                )
        if reason is None:
            return None
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            insert(holds)
            .values(
                rule_id=rule_id, fired_at=fired_at, customers=reached, reason=reason, held_at=now
            )
            .on_conflict_do_nothing(index_elements=["rule_id", "fired_at"])
        )
        conn.execute(
            update(ledger)
            .where(
                ledger.c.rule_id == rule_id,
                ledger.c.created_at == fired_at,
                ledger.c.status == LedgerStatus.PENDING.value,
            )
            .values(suppressed_reason=reason)
        )
        return reason


@dataclass(frozen=True)
class HeldFiring:
    rule_id: str
    fired_at: int
    customers: int
    reason: str
    held_at: int
    pending: int


def held_firings(conn: Connection) -> list[HeldFiring]:
    """Every firing still held, with how many of its messages are pending."""
    pending = (
        select(func.count())
        .where(
            ledger.c.rule_id == holds.c.rule_id,
            ledger.c.created_at == holds.c.fired_at,
            ledger.c.status == LedgerStatus.PENDING.value,
        )
        .scalar_subquery()
    )
    rows = conn.execute(
        select(holds, pending.label("pending"))
        .where(holds.c.released_at.is_(None))
        .order_by(holds.c.held_at, holds.c.rule_id)
    ).mappings()
    return [
        HeldFiring(
            r["rule_id"], r["fired_at"], r["customers"], r["reason"], r["held_at"], r["pending"]
        )
        for r in rows
    ]


def release(conn: Connection, rule_id: str, now: int, *, cancel: bool = False) -> tuple[int, int]:
    """Release (or cancel) every held firing of ``rule_id``: (firings, messages) affected."""
    fired = [
        at
        for (at,) in conn.execute(
            select(holds.c.fired_at).where(
                holds.c.rule_id == rule_id, holds.c.released_at.is_(None)
            )
        )
    ]
    if not fired:
        return 0, 0
    conn.execute(
        update(holds)
        .where(holds.c.rule_id == rule_id, holds.c.released_at.is_(None))
        .values(released_at=now, outcome="cancelled" if cancel else "released")
    )
    rows = and_(
        ledger.c.rule_id == rule_id,
        ledger.c.created_at.in_(fired),
        ledger.c.status == LedgerStatus.PENDING.value,
    )
    if cancel:
        values = {
            "status": LedgerStatus.SUPPRESSED.value,
            "suppressed_reason": "cancelled by an operator after a blast-radius hold",
            "next_attempt_at": None,
            "updated_at": now,
        }
    else:
        values = {"suppressed_reason": None, "next_attempt_at": None, "updated_at": now}
    changed = conn.execute(
        update(ledger).where(rows).values(**values), execution_options={"preserve_rowcount": True}
    ).rowcount
    return len(fired), changed


__all__ = ["BlastRadiusGuard", "DeliveryHold", "HeldFiring", "held_firings", "release", "unheld"]
