"""What `patron explain` found about one customer: plain data, rendered as text or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.expr.trace import TraceNode


@dataclass(frozen=True)
class LedgerRow:
    """One recorded action of a firing, as the outbox left it."""

    id: int
    rule_id: str
    action: str
    channel: str | None
    to: str | None
    status: str
    created_at: int
    sent_at: int | None
    attempts: int
    reason: str | None  # suppressed_reason: why it was suppressed, or why it still waits
    error: str | None
    period: str


@dataclass
class RuleVerdict:
    """One rule for this customer at this instant."""

    rule_id: str
    where: str  # file:line
    description: str
    enabled: bool
    due: bool
    schedule: str
    once_per: str
    condition: TraceNode
    outcome: str  # see OUTCOMES
    detail: str
    firings: list[LedgerRow] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.condition.value is True


# The outcome of a rule, in the order a reader asks about them.
OUTCOMES = {
    "disabled": "the rule is switched off (enabled: false)",
    "not_matched": "the condition is not true for this customer",
    "fired": "it fired at this instant; see the actions below",
    "already_fired": "it matches, but it already fired inside its once_per window",
    "would_fire": "it matches and nothing is recorded yet: the next cycle at or after this "
    "instant will fire it (patron dry-run shows the message)",
    "not_due": "it matches, but its schedule is not due at this instant",
}


@dataclass(frozen=True)
class JourneyState:
    """The customer's pass through a journey."""

    journey_id: str
    enrollment_id: int
    arm: str
    status: str
    step: int
    enrolled_at: int
    step_due_at: int
    ended_at: int | None


@dataclass
class Explanation:
    """Everything `patron explain` prints, as of one instant."""

    as_of: int
    timezone: str
    customer: dict[str, Any]
    features: dict[str, Any]
    rules: list[RuleVerdict]
    journeys: list[JourneyState]
    other_messages: list[LedgerRow]  # rows not written by a rule: journeys, escalations
