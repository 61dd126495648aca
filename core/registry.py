"""Registries own the vocabulary: every feature, action, channel and event type by name.

Built once from a plugin manager; a name contributed twice is an error naming
both plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pluggy

from core.config import Settings
from core.errors import PluginError
from core.vocabulary import (
    ActionType,
    ChannelType,
    CycleStage,
    EventType,
    Feature,
    FeatureSet,
    FeatureType,
    RuleSection,
)

T = TypeVar("T")


@dataclass
class Named(Generic[T]):
    """Items of one kind by name, remembering which plugin gave each."""

    kind: str
    items: dict[str, T] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, item: T, owner: str) -> None:
        if name in self.items:
            raise PluginError(
                f"{self.kind} '{name}' is registered by two plugins: "
                f"'{self.owners[name]}' and '{owner}'"
            )
        self.items[name] = item
        self.owners[name] = owner

    def __contains__(self, name: object) -> bool:
        return name in self.items

    def __getitem__(self, name: str) -> T:
        return self.items[name]

    def names(self) -> list[str]:
        return sorted(self.items)


@dataclass
class Registry:
    """Everything the installed plugins contribute, indexed by name."""

    features: Named[Feature] = field(default_factory=lambda: Named("feature"))
    feature_sets: Named[FeatureSet] = field(default_factory=lambda: Named("feature set"))
    feature_set_of: dict[str, str] = field(default_factory=dict)
    actions: Named[ActionType] = field(default_factory=lambda: Named("action"))
    channels: Named[ChannelType] = field(default_factory=lambda: Named("channel"))
    event_types: Named[EventType] = field(default_factory=lambda: Named("event type"))
    rule_sections: Named[RuleSection] = field(default_factory=lambda: Named("rule-file section"))
    cycle_stages: Named[CycleStage] = field(default_factory=lambda: Named("cycle stage"))
    template_dirs: list[Path] = field(default_factory=list)

    def feature_types(self) -> dict[str, FeatureType]:
        return {name: f.type for name, f in self.features.items.items()}


def _collect(
    pm: pluggy.PluginManager, hook_name: str, kwargs: dict[str, Any]
) -> Iterable[tuple[str, Any]]:
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():  # registration order
        result = impl.function(*[kwargs[a] for a in impl.argnames])
        if result is None:
            continue
        if not isinstance(result, list | tuple):
            raise PluginError(
                f"plugin '{impl.plugin_name}': {hook_name} must return a list, got {type(result).__name__}"
            )
        for item in result:
            yield impl.plugin_name, item


def build_registry(pm: pluggy.PluginManager, settings: Settings) -> Registry:
    """Ask every plugin for its vocabulary and index it; raise PluginError on conflicts."""
    reg = Registry()
    kwargs: dict[str, Any] = {"settings": settings}
    for owner, fset in _collect(pm, "patron_feature_sets", kwargs):
        reg.feature_sets.add(fset.name, fset, owner)
        for feature in fset.features:
            reg.features.add(feature.name, feature, owner)
            reg.feature_set_of[feature.name] = fset.name
    adders: list[tuple[str, Callable[[str, Any, str], None]]] = [
        ("patron_action_types", lambda n, i, o: reg.actions.add(n, i, o)),
        ("patron_channel_types", lambda n, i, o: reg.channels.add(n, i, o)),
        ("patron_event_types", lambda n, i, o: reg.event_types.add(n, i, o)),
        ("patron_rule_sections", lambda n, i, o: reg.rule_sections.add(n, i, o)),
        ("patron_cycle_stages", lambda n, i, o: reg.cycle_stages.add(n, i, o)),
    ]
    for hook_name, add in adders:
        for owner, item in _collect(pm, hook_name, kwargs):
            add(item.name, item, owner)
    for _owner, path in _collect(pm, "patron_template_dirs", kwargs):
        reg.template_dirs.append(Path(path))
    reg.cycle_stages.items = {
        s.name: s for s in order_stages(list(reg.cycle_stages.items.values()))
    }
    return reg


def order_stages(stages: list[CycleStage]) -> list[CycleStage]:
    """Stages in an order that honours every ``after`` (stable: registration order otherwise).

    ``"*"`` puts a stage after every other one except those that say ``"*"`` too and
    those that (through their own ``after``) must follow it. Raises PluginError naming
    the stages when their ``after`` lists form a cycle.
    """
    names = {stage.name for stage in stages}
    before = {
        stage.name: {n for n in stage.after if n in names and n != stage.name} for stage in stages
    }
    for stage in stages:
        if "*" in stage.after:
            followers = _followers(stage.name, before)
            last = {s.name for s in stages if "*" in s.after}
            before[stage.name] |= names - last - followers
    ordered: list[CycleStage] = []
    done: set[str] = set()
    while len(ordered) < len(stages):
        ready = [s for s in stages if s.name not in done and before[s.name] <= done]
        if not ready:
            stuck = ", ".join(sorted(s.name for s in stages if s.name not in done))
            raise PluginError(f"cycle stages must each run after another (a cycle): {stuck}")
        ordered.append(ready[0])
        done.add(ready[0].name)
    return ordered


def _followers(name: str, before: dict[str, set[str]]) -> set[str]:
    """The stages that must run after ``name`` through explicit ``after`` names."""
    found: set[str] = set()
    frontier = {name}
    while frontier:
        frontier = {s for s, deps in before.items() if deps & frontier} - found
        found |= frontier
    return found
