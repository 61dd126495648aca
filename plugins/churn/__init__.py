"""The shipped ``churn`` plugin: churn signals, BG/NBD P(alive), churn risk and bands.

Loaded through the ``patron`` entry-point group like any third-party plugin. It adds

- features: the churn signals (:mod:`plugins.churn.signals`), ``p_alive`` and
  ``expected_purchases_90d`` (:mod:`plugins.churn.model`, BG/NBD in
  :mod:`plugins.churn.bgnbd`), ``churn_risk``, ``churn_band`` and ``churn_reason``
  (:mod:`plugins.churn.risk`);
- the ``churn:`` rule-file section (:mod:`plugins.churn.settings`);
- the ``churn`` cycle stage that refits the model periodically (:mod:`plugins.churn.stage`).

Win-back campaigns are journeys (:mod:`core.journeys`) in ``rules/churn.yaml``.
"""

from __future__ import annotations

from core.config import Settings
from core.hookspecs import hookimpl
from core.vocabulary import CycleStage, FeatureSet, RuleSection
from plugins.churn import tables as tables  # defines the plugin's tables for the store
from plugins.churn.model import ChurnModelFeatures
from plugins.churn.risk import ChurnRisk
from plugins.churn.settings import CHURN_SECTION
from plugins.churn.signals import SIGNAL_SETS
from plugins.churn.stage import CHURN_STAGE


@hookimpl
def patron_feature_sets(settings: Settings) -> list[FeatureSet]:
    return [*(signals() for signals in SIGNAL_SETS), ChurnModelFeatures(), ChurnRisk()]


@hookimpl
def patron_rule_sections() -> list[RuleSection]:
    return [CHURN_SECTION]


@hookimpl
def patron_cycle_stages() -> list[CycleStage]:
    return [CHURN_STAGE]
