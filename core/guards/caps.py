"""Frequency caps: at most N messages of a category to one customer per window, across rules.

::

    delivery:
      caps:
        - {category: marketing, max: 2, per: 7d}
        - {category: any, max: 5, per: 1d}     # care + marketing + loyalty together

Service and transactional messages are never capped (and do not count). Rows due
together are decided in priority order (lower number first, as they are claimed), so a
more important rule wins the last slot and a less important one is suppressed with the
cap as its reason. Counted are messages sent within the window plus those approved
earlier in the same delivery run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from core.config import EXEMPT_CATEGORIES, FrequencyCap, show_duration
from core.store import LedgerEntry, LedgerStatus
from core.store.tables import table_of

ledger = table_of(LedgerEntry)
Sent = tuple[int, str, int]  # (ledger id, category, sent at)


def cap_reason(cap: FrequencyCap) -> str:
    what = "messages" if cap.category == "any" else f"{cap.category} messages"
    return f"frequency cap: at most {cap.max} {what} per {show_duration(cap.per)}"


class CapBook:
    """What each customer of a batch was already sent, and the caps to hold them to."""

    def __init__(self, caps: Sequence[FrequencyCap]) -> None:
        self.caps = list(caps)
        self.window = max((cap.per for cap in self.caps), default=0)
        self.sent: dict[int, dict[int, tuple[str, int]]] = defaultdict(dict)
        self.approved: dict[int, dict[int, tuple[str, int]]] = defaultdict(dict)  # this run

    def load(self, conn: Connection, customer_ids: Iterable[int], now: int) -> None:
        """Read the capped messages sent to these customers within the longest window."""
        self.sent.clear()
        for customer_id in list(self.approved):  # a daemon's memory: keep only the window
            recent = {
                k: v for k, v in self.approved[customer_id].items() if v[1] > now - self.window
            }
            if recent:
                self.approved[customer_id] = recent
            else:
                del self.approved[customer_id]
        ids = list(customer_ids)
        if not self.caps or not ids:
            return
        query = select(
            ledger.c.id, ledger.c.customer_id, ledger.c.category, ledger.c.sent_at
        ).where(
            ledger.c.customer_id.in_(ids),
            ledger.c.status == LedgerStatus.SENT.value,
            ledger.c.sent_at > now - self.window,
            ledger.c.category.not_in(EXEMPT_CATEGORIES),
        )
        for row_id, customer_id, category, sent_at in conn.execute(query):
            self.sent[customer_id][row_id] = (category, sent_at)

    def check(self, customer_id: int, category: str, now: int) -> str | None:
        """The cap this message would break, or None (then :meth:`approve` it if sent)."""
        if category in EXEMPT_CATEGORIES:
            return None
        history = {**self.sent.get(customer_id, {}), **self.approved.get(customer_id, {})}
        for cap in self.caps:
            if cap.category not in ("any", category):
                continue
            count = sum(
                1
                for kind, at in history.values()
                if at > now - cap.per and (cap.category == "any" or kind == category)
            )
            if count >= cap.max:
                return cap_reason(cap)
        return None

    def approve(self, customer_id: int, row_id: int, category: str, now: int) -> None:
        if self.caps and category not in EXEMPT_CATEGORIES:
            self.approved[customer_id][row_id] = (category, now)


__all__ = ["CapBook", "cap_reason"]
