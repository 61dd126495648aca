"""A cycle computes only the features its due rules, stages and effects read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, select

from core.app import build_app
from core.config import Settings
from core.cycle import run_cycle
from core.cycle_features import cycle_features
from core.demo import write_demo_files
from core.hookspecs import hookimpl
from core.importing import import_customers, import_events
from core.plugins import make_plugin_manager
from core.store import Store
from core.store.tables import Customer, table_of
from core.vocabulary import (
    ActionKind,
    ActionParams,
    ActionType,
    CycleStage,
    EffectContext,
    Feature,
    FeatureContext,
    FeatureType,
    StageContext,
)
from tests.cycle.conftest import write_rules, write_template

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

ONE_RULE = """
rules:
  - id: at-risk
    schedule: "every 1h"
    when: churn_band == "high"
    once_per: 30d
    category: care
    then:
      - {action}
"""


class Probe:
    """A feature set nobody reads, which records every time it is computed."""

    name = "probe"
    parallel_safe = True
    features: Sequence[Feature] = (Feature("probe_value", FeatureType.NUMBER, "Unread."),)

    def __init__(self) -> None:
        self.selected = 0

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None:
        return None

    def select(self, ctx: FeatureContext) -> Select[Any]:
        self.selected += 1
        customers = table_of(Customer)
        return select(customers.c.id.label("customer_id"), customers.c.id.label("probe_value"))


class Nudge(ActionParams):
    pass


def _apply(ctx: EffectContext) -> int:
    return 0


class Extras:
    """A probe set, an effect action without ``reads`` and a stage that records the
    feature table's columns (``reads`` as given: None means any feature)."""

    def __init__(self, stage_reads: Any = (lambda rules: ())) -> None:
        self.probe = Probe()
        self.columns: list[str] = []
        self.stage_reads = stage_reads

    def _record(self, stage: StageContext) -> dict[str, int]:
        self.columns = [c.name for c in stage.features.columns]
        return {}

    @hookimpl
    def patron_feature_sets(self, settings: Settings) -> list[Any]:
        return [self.probe]

    @hookimpl
    def patron_action_types(self) -> list[ActionType]:
        return [ActionType("nudge", Nudge, "Nudge.", kind=ActionKind.EFFECT, apply=_apply)]

    @hookimpl
    def patron_cycle_stages(self) -> list[CycleStage]:
        return [CycleStage("columns", self._record, after=("*",), reads=self.stage_reads)]


def _wanted(settings: Settings, rules_text: str, extras: Extras) -> frozenset[str] | None:
    write_rules(settings, rules_text)
    write_template(settings, "x", "en", "Hello", "Hello {{ customer.name }}")
    app = build_app(settings=settings, pm=make_plugin_manager(extra=[extras]))
    rules = app.load_rules()
    stages = list(app.registry.cycle_stages.items.values())
    return cycle_features(app.registry, rules, rules.enabled(), stages)


def test_the_features_read_and_what_they_need(settings: Settings) -> None:
    wanted = _wanted(
        settings, ONE_RULE.format(action="send: {channel: file, template: x}"), Extras()
    )
    assert wanted is not None
    assert "churn_band" in wanted
    # churn_band's set needs the model and the signals, and so do their sets
    assert {"p_alive", "typical_purchase_gap_days", "survey_trend", "complaints_90d"} <= wanted
    # the tiering stage reads its tiers' conditions and writes the tier features
    assert {"tier", "tier_since_days", "purchase_count_365d"} <= wanted
    assert not {"open_coupons", "coupon_code", "probe_value", "holiday_today"} & wanted


def test_a_stage_or_effect_that_does_not_say_reads_everything(settings: Settings) -> None:
    send = ONE_RULE.format(action="send: {channel: file, template: x}")
    assert _wanted(settings, send, Extras(stage_reads=None)) is None
    assert _wanted(settings, ONE_RULE.format(action="nudge: {}"), Extras()) is None
    disabled = ONE_RULE.format(action="nudge: {}").replace(
        "category:", "enabled: false\n    category:"
    )
    assert _wanted(settings, disabled, Extras()) is not None  # only due rules count


def _cycle(store: Store, settings: Settings, extras: Extras) -> Any:
    app = build_app(settings=settings, pm=make_plugin_manager(extra=[extras]))
    app._store = store
    return run_cycle(
        store, app.registry, settings, app.load_rules(), int(AS_OF.timestamp()), dry_run=True
    )


def test_a_cycle_on_the_features_read_decides_as_one_on_all(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"rule_paths": [REPO / "rules"], "template_paths": [REPO / "templates"]}
    )
    customers_csv, events_csv = write_demo_files(tmp_path / "demo", customers=300, as_of=AS_OF)
    app = build_app(settings=settings)
    import_customers(store, customers_csv, settings)
    import_events(store, events_csv, settings, app.registry.event_types.names())

    pruned, everything = Extras(), Extras(stage_reads=None)
    few = _cycle(store, settings, pruned)
    full = _cycle(store, settings, everything)

    assert pruned.probe.selected == 0  # never computed
    assert everything.probe.selected == 1
    assert "probe_value" in everything.columns and "probe_value" not in pruned.columns
    assert "open_coupons" not in pruned.columns
    assert {"churn_band", "tier", "days_until_birthday"} <= set(pruned.columns)
    assert len(pruned.columns) < len(everything.columns) * 2 / 3
    assert [(o.rule_id, o.as_dict(), o.sample) for o in few.outcomes] == [
        (o.rule_id, o.as_dict(), o.sample) for o in full.outcomes
    ]
    assert sum(o.matched for o in few.outcomes) > 0
    assert few.stages == full.stages
