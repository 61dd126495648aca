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
from core.registry import build_registry
from core.vocabulary import EventType, Feature, FeatureType

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
