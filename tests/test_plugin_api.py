"""The plugin API: documented hooks, the registry's duplicate check, shipped plugins loaded like any."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import pytest

from core import hookspecs
from core.config import Settings
from core.errors import PluginError
from core.hookspecs import hookimpl
from core.plugins import make_plugin_manager, plugin_names
from core.registry import Registry, build_registry, order_stages
from core.vocabulary import CycleStage, EventType, Feature, FeatureType

HOOKS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("patron_")
]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc.splitlines()[0]) > 20, f"{name} needs a summary line"


def test_shipped_plugins_load_through_the_entry_point_group() -> None:
    names = dict(plugin_names(make_plugin_manager()))
    for plugin in (
        "core_events",
        "core_features",
        "core_actions",
        "core_channels",
        "tiering",
        "churn",
        "care",
    ):
        assert plugin in names
        assert names[plugin].startswith("patron ")  # contributed by the patron distribution


def test_a_third_party_plugin_extends_the_vocabulary(settings: Settings) -> None:
    class WebinarPlugin:
        @hookimpl
        def patron_event_types(self) -> list[EventType]:
            return [EventType("webinar_attended", "The customer attended a webinar.")]

    pm = make_plugin_manager(extra=[WebinarPlugin()])
    registry = build_registry(pm, settings)
    assert "webinar_attended" in registry.event_types
    assert "purchase" in registry.event_types


def test_a_name_registered_twice_names_both_plugins(settings: Settings) -> None:
    class Clash:
        @hookimpl
        def patron_event_types(self) -> list[EventType]:
            return [EventType("purchase", "A second purchase type.")]

    pm = make_plugin_manager()
    pm.register(Clash(), name="clashing_plugin")
    with pytest.raises(PluginError) as caught:
        build_registry(pm, settings)
    assert str(caught.value) == (
        "event type 'purchase' is registered by two plugins: 'core_events' and 'clashing_plugin'"
    )


def test_a_feature_name_registered_twice(settings: Settings) -> None:
    class FakeSet:
        name = "fake"
        features: Sequence[Feature] = (Feature("purchase_count", FeatureType.NUMBER, "Again."),)

        def prepare(self, conn: Any, ctx: Any) -> None:
            return None

        def select(self, ctx: Any) -> Any:
            raise AssertionError("not called")

    class Plugin:
        @hookimpl
        def patron_feature_sets(self, settings: Settings) -> list[Any]:
            return [FakeSet()]

    pm = make_plugin_manager()
    pm.register(Plugin(), name="copycat")
    with pytest.raises(
        PluginError,
        match="feature 'purchase_count' is registered by two plugins: 'core_features' and 'copycat'",
    ):
        build_registry(pm, settings)


def test_a_hook_that_returns_no_list(settings: Settings) -> None:
    class Broken:
        @hookimpl
        def patron_event_types(self) -> Any:
            return EventType("single", "Not in a list.")

    pm = make_plugin_manager(entry_points=False)
    pm.register(Broken(), name="broken")
    with pytest.raises(
        PluginError, match="plugin 'broken': patron_event_types must return a list, got EventType"
    ):
        build_registry(pm, settings)


def _stage(name: str, *after: str) -> CycleStage:
    return CycleStage(name=name, run=lambda _ctx: {}, after=after)


def test_stages_run_after_what_they_name_whatever_the_registration_order() -> None:
    stages = [_stage("journeys", "*"), _stage("care", "tiering", "absent"), _stage("tiering")]
    assert [s.name for s in order_stages(stages)] == ["tiering", "care", "journeys"]


def test_stages_that_wait_for_each_other_are_a_plugin_error() -> None:
    with pytest.raises(PluginError, match=r"a cycle\): a, b$"):
        order_stages([_stage("a", "b"), _stage("b", "a"), _stage("c")])


def test_the_shipped_stages_run_tiers_and_churn_before_care_and_journeys_last(
    registry: Registry,
) -> None:
    names = list(registry.cycle_stages.items)
    assert names[-1] == "journeys"
    assert names.index("care-sla") > max(names.index("tiering"), names.index("churn"))


def test_a_stage_that_names_a_last_stage_runs_after_it() -> None:
    stages = [_stage("journeys", "*"), _stage("audit", "journeys"), _stage("tiering")]
    assert [s.name for s in order_stages(stages)] == ["tiering", "journeys", "audit"]
