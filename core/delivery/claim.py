"""Claiming due rows and recording outcomes, in batches.

Claiming leases a batch: its rows get ``next_attempt_at = now + lease`` in one
``UPDATE ... WHERE id IN (SELECT ... LIMIT n)`` (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so another worker skips them, and a crashed worker's rows come back when
the lease runs out. Rows of a firing held by the blast-radius guard are not claimed.

Outcomes are recorded by a :class:`Marker` in one transaction per ``mark_every``
outcomes (an ``executemany`` per kind), only on rows still pending. Messages sent but
not yet recorded are the "in flight" ones: a crash re-sends at most those, with the
same Message-ID.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from core.guards.blast_radius import unheld
from core.store import LedgerEntry, LedgerStatus, Store
from core.store.ledger_args import ledger_rows
from core.store.tables import table_of

SEND_ACTION = "send"
REASON_LENGTH = 255
ledger = table_of(LedgerEntry)


def claim(store: Store, now: int, size: int, lease_seconds: int) -> list[dict[str, Any]]:
    """Lease up to ``size`` due send rows; return them by priority (lowest number first)."""
    due = (
        select(ledger.c.id)
        .where(
            ledger.c.status == LedgerStatus.PENDING.value,
            ledger.c.action == SEND_ACTION,
            or_(ledger.c.next_attempt_at.is_(None), ledger.c.next_attempt_at <= now),
            unheld(),
        )
        .order_by(ledger.c.priority, ledger.c.id)
        .limit(size)
    )
    if store.is_postgres:
        due = due.with_for_update(of=ledger, skip_locked=True)
    statement = (
        update(ledger)
        .where(ledger.c.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + lease_seconds, updated_at=now)
        .returning(*ledger.c)
    )
    with store.begin() as conn:
        rows = ledger_rows(conn, statement)
    return sorted(rows, key=lambda r: (r["priority"], r["id"]))


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:REASON_LENGTH]


_PENDING = ledger.c.status == LedgerStatus.PENDING.value
_WHERE = (ledger.c.id == bindparam("b_id"), _PENDING)
_STATEMENTS: dict[str, Any] = {
    "sent": update(ledger)
    .where(*_WHERE)
    .values(
        status=LedgerStatus.SENT.value,
        sent_at=bindparam("b_at"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=None,
        last_error=None,
        suppressed_reason=None,
        updated_at=bindparam("b_at"),
    ),
    "suppressed": update(ledger)
    .where(*_WHERE)
    .values(
        status=LedgerStatus.SUPPRESSED.value,
        suppressed_reason=bindparam("b_reason"),
        next_attempt_at=None,
        updated_at=bindparam("b_at"),
    ),
    "failed": update(ledger)
    .where(*_WHERE)
    .values(
        status=LedgerStatus.FAILED.value,
        attempts=bindparam("b_attempts"),
        last_error=bindparam("b_error"),
        next_attempt_at=None,
        updated_at=bindparam("b_at"),
    ),
    "retry": update(ledger)
    .where(*_WHERE)
    .values(
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        last_error=bindparam("b_error"),
        updated_at=bindparam("b_at"),
    ),
    "deferred": update(ledger)
    .where(*_WHERE)
    .values(
        next_attempt_at=bindparam("b_next"),
        suppressed_reason=bindparam("b_reason"),
        updated_at=bindparam("b_at"),
    ),
    "released": update(ledger)
    .where(*_WHERE)
    .values(next_attempt_at=bindparam("b_next"), updated_at=bindparam("b_at")),
}


class Marker:
    """Buffers outcomes and records them ``every`` at a time (thread-safe)."""

    def __init__(self, store: Store, now: int, every: int) -> None:
        self.store = store
        self.now = now
        self.every = every
        self._lock = threading.Lock()
        self._buffer: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._count = 0

    def _add(self, kind: str, row: Mapping[str, Any], **values: Any) -> None:
        with self._lock:
            self._buffer[kind].append({"b_id": row["id"], "b_at": self.now, **values})
            self._count += 1
            full = self._count >= self.every
        if full:
            self.flush()

    def sent(self, row: Mapping[str, Any]) -> None:
        self._add("sent", row, b_attempts=row["attempts"] + 1)

    def suppressed(self, row: Mapping[str, Any], reason: str) -> None:
        self._add("suppressed", row, b_reason=_clip(reason))

    def failed(self, row: Mapping[str, Any], error: str, *, attempted: bool) -> None:
        attempts = row["attempts"] + (1 if attempted else 0)
        self._add("failed", row, b_attempts=attempts, b_error=error)

    def retry(self, row: Mapping[str, Any], next_at: int, error: str) -> None:
        self._add("retry", row, b_attempts=row["attempts"] + 1, b_next=next_at, b_error=error)

    def deferred(self, row: Mapping[str, Any], until: int, reason: str) -> None:
        self._add("deferred", row, b_next=until, b_reason=_clip(reason))

    def released(self, row: Mapping[str, Any]) -> None:
        """Give a claimed row back unsent: due again at once, no attempt counted."""
        self._add("released", row, b_next=self.now)

    def flush(self) -> None:
        """Record every buffered outcome in one transaction."""
        with self._lock:
            buffered, self._buffer = self._buffer, defaultdict(list)
            self._count = 0
            if not buffered:
                return
            with self.store.begin() as conn:
                for kind, params in buffered.items():
                    conn.execute(_STATEMENTS[kind], params)


__all__ = ["SEND_ACTION", "Marker", "claim"]
