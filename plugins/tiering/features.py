"""The stored tier status as features, as of any instant.

Read from ``tier_states`` (the latest row at or before the instant, found by key in
``tier_current`` where that copy answers: :mod:`plugins.tiering.current`), so the
cycle, a delivery re-rendering a firing and ``explain`` all see the same values. In a
cycle the tiering stage updates these columns after it decided this cycle's changes.

``tier_change``, ``tier_changed_to`` and ``tier_changed_from`` describe a change of the
last RECENT_CHANGE_DAYS days only (null otherwise, and for a customer's first tier), so
``when: tier_changed_to == "vip"`` with ``once_per: 30d`` congratulates each new VIP once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, case, literal, select

from core.builtin.features import days_between
from core.kept_sets import may_keep
from core.vocabulary import Feature, FeatureContext, FeatureType
from plugins.tiering.current import latest_states, states_in_force
from plugins.tiering.in_force import FeatureSettings, settings_in_force

DAY = 86400
RECENT_CHANGE_DAYS = 7
CHANGES = ("upgrade", "downgrade", "reassigned")
N, S, B = FeatureType.NUMBER, FeatureType.STRING, FeatureType.BOOLEAN
STATE_KEY = "tiering.states_in_force"  # in FeatureContext.cycle_state

TIER_FEATURES: Sequence[Feature] = (
    Feature(
        "tier", S, "The customer's tier (tiers: in the rule files); null before the first cycle."
    ),
    Feature("previous_tier", S, "The tier before the latest change (null if none)."),
    Feature("tier_since_days", N, "Days in the current tier.", "days"),
    Feature(
        "tier_change",
        S,
        f"'upgrade', 'downgrade' or 'reassigned' (the old tier was removed from the list) if the "
        f"tier changed in the last {RECENT_CHANGE_DAYS} days, else null.",
    ),
    Feature(
        "tier_changed_to",
        S,
        f"The tier entered by a change in the last {RECENT_CHANGE_DAYS} days, else null.",
    ),
    Feature(
        "tier_changed_from",
        S,
        f"The tier left by a change in the last {RECENT_CHANGE_DAYS} days, else null.",
    ),
    Feature(
        "tier_downgrade_to",
        S,
        "The lower tier the customer now qualifies for, while a downgrade is pending (else null).",
    ),
    Feature(
        "days_until_downgrade",
        N,
        "Days until a pending downgrade takes effect (the grace period ends); null if none.",
        "days",
    ),
    Feature(
        "priority_service",
        B,
        "The customer's tier is marked priority_service in the tier list.",
        default=False,
    ),
)


def tier_state_select(as_of: int, priority_tiers: Sequence[str], state: Any = None) -> Select[Any]:
    """The tier features of every customer with a stored tier, as of ``as_of``: from
    ``state`` (a subquery of ``tier_states`` rows, one per customer, each the row in
    force at ``as_of``) if given, else from :func:`latest_states`."""
    if state is None:
        state = latest_states(as_of)
    recent = and_(
        state.c.change.in_(CHANGES), state.c.tier_since > as_of - RECENT_CHANGE_DAYS * DAY
    )
    return select(
        state.c.customer_id,
        state.c.tier.label("tier"),
        state.c.previous_tier.label("previous_tier"),
        days_between(literal(as_of), state.c.tier_since).label("tier_since_days"),
        case((recent, state.c.change)).label("tier_change"),
        case((recent, state.c.tier)).label("tier_changed_to"),
        case((recent, state.c.previous_tier)).label("tier_changed_from"),
        state.c.downgrade_to.label("tier_downgrade_to"),
        days_between(state.c.downgrade_at, literal(as_of)).label("days_until_downgrade"),
        state.c.tier.in_(list(priority_tiers)).label("priority_service"),
    )


class TierStateFeatures:
    """tier, previous_tier, tier_since_days, recent changes and pending downgrades."""

    name = "tier_state"
    features: Sequence[Feature] = TIER_FEATURES

    def __init__(self) -> None:
        self._settings: dict[int, FeatureSettings] = {}

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        if len(self._settings) > 64:
            self._settings.clear()
        self._settings[ctx.as_of] = settings_in_force(conn, ctx.as_of)
        # Where this computation reads each customer's status: decided on its own
        # connection (the copy may be missing in another's view), kept for ``select``.
        ctx.cycle_state[f"{STATE_KEY}@{ctx.as_of}"] = states_in_force(
            conn, ctx.as_of, may_write=may_keep(ctx)
        )

    def select(self, ctx: FeatureContext) -> Select[Any]:
        settings = self._settings.get(ctx.as_of) or FeatureSettings()
        return tier_state_select(
            ctx.as_of, settings.priority_tiers, ctx.cycle_state.get(f"{STATE_KEY}@{ctx.as_of}")
        )


__all__ = [
    "CHANGES",
    "RECENT_CHANGE_DAYS",
    "TIER_FEATURES",
    "TierStateFeatures",
    "tier_state_select",
]
