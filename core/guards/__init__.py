"""Send-time guards: whether a due message may leave now, and if not, why.

Each guard answers for one ledger row with a :class:`Verdict` that the outbox records
on the row, so "why didn't she get it?" always has an answer:

=================  ==========  ===================================================
guard              verdict     reason on the row (examples)
=================  ==========  ===================================================
deadline           suppress    ``expired: not sent within 48h of the firing``
blast radius       hold        ``held: rule would message 12000 customers (limit 10000)``
address            suppress    ``no email address``, ``invalid email address``
consent            suppress    ``no consent for sms``, ``unsubscribed from marketing messages``
quiet hours        defer       ``quiet hours 21:00-08:00 (Asia/Tokyo): deferred to ...``
frequency caps     suppress    ``frequency cap: at most 2 marketing messages per 7d``
=================  ==========  ===================================================

They run in this order; a row addressed to staff (``send: {to: supervisor}``) only
meets the first three. Caps come last so that only messages that really leave count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    SUPPRESS = "suppress"  # final: status suppressed with the reason
    DEFER = "defer"  # stays pending until ``until``; the reason is noted on the row
    HOLD = "hold"  # stays pending until an operator releases the rule
    FAIL = "fail"  # final: status failed (a configuration problem, not the customer)


@dataclass(frozen=True)
class Verdict:
    """Why a row does not go out now."""

    decision: Decision
    reason: str
    until: int | None = None  # DEFER: epoch seconds of the next allowed time


def suppress(reason: str) -> Verdict:
    return Verdict(Decision.SUPPRESS, reason)


__all__ = ["Decision", "Verdict", "suppress"]
