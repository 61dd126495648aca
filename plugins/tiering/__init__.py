"""The shipped ``tiering`` plugin: RFM scores, tiers with hysteresis, loyalty points and coupons.

Loaded through the ``patron`` entry-point group like any third-party plugin. It adds:

- features: RFM scores and segment (:mod:`.rfm`), the stored tier status
  (:mod:`.features`), points, coupons and unrewarded events (:mod:`.loyalty_features`);
- the ``tiers:`` rule-file section (:mod:`.tiers`), with a cross-file check that rules
  only name defined tiers (:mod:`.crosscheck`);
- the ``tiering`` cycle stage that decides and stores tiers (:mod:`.stage`);
- the actions ``grant_points``, ``issue_coupon`` and ``expire_points`` (:mod:`.loyalty`);
- the event types ``tier_changed``, ``points_redeemed``, ``coupon_redeemed`` and
  ``referral`` (:mod:`.events`).

The operator's guide is ``docs/tiering.md``.
"""

from __future__ import annotations

from core.config import Settings
from core.hookspecs import hookimpl
from core.vocabulary import ActionType, CycleStage, EventType, FeatureSet, RuleSection
from plugins.tiering.crosscheck import check_rule_tiers
from plugins.tiering.events import TIERING_EVENT_TYPES
from plugins.tiering.features import TierStateFeatures
from plugins.tiering.loyalty import EXPIRE_POINTS, GRANT_POINTS, ISSUE_COUPON
from plugins.tiering.loyalty_features import CouponFeatures, PointsFeatures, UnrewardedFeatures
from plugins.tiering.rfm import RfmFeatures
from plugins.tiering.stage import TIER_SETTINGS_STAGE, TIERING_STAGE
from plugins.tiering.tiers import TiersSection, check_tiers

TIERS_SECTION = RuleSection(
    name="tiers",
    model=TiersSection,
    description="The ordered tier list (the first tier whose condition holds wins), the "
    "downgrade grace period and how RFM scores are computed.",
    check=check_tiers,
    example="tiers:\n"
    "  grace: 30d\n"
    "  levels:\n"
    "    - name: vip\n"
    "      when: spend_365d >= 5000000 or rfm_score >= 15\n"
    "    - name: ordinary\n"
    "      when: purchase_count >= 1\n"
    "    - name: potential\n",
    check_rules=check_rule_tiers,
)


@hookimpl
def patron_feature_sets(settings: Settings) -> list[FeatureSet]:
    return [
        RfmFeatures(),
        TierStateFeatures(),
        PointsFeatures(),
        CouponFeatures(),
        UnrewardedFeatures(),
    ]


@hookimpl
def patron_action_types() -> list[ActionType]:
    return [GRANT_POINTS, ISSUE_COUPON, EXPIRE_POINTS]


@hookimpl
def patron_event_types() -> list[EventType]:
    return list(TIERING_EVENT_TYPES)


@hookimpl
def patron_rule_sections() -> list[RuleSection]:
    return [TIERS_SECTION]


@hookimpl
def patron_cycle_stages() -> list[CycleStage]:
    return [TIER_SETTINGS_STAGE, TIERING_STAGE]


__all__ = ["TIERS_SECTION"]
