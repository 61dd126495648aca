"""The application object: settings, plugins, vocabulary, store, templates and rules.

Built by :func:`build_app`, never at import, so tests and a reloading daemon can
make fresh ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from core.config import Settings, load_settings
from core.errors import Problem
from core.plugins import make_plugin_manager
from core.registry import Registry, build_registry
from core.rules import RuleSet, check_rules, load_rules
from core.store import Store, open_store
from core.templates import TemplateCatalog


@dataclass
class RuleCheckEnv:
    """What rule validation may ask about channels and templates."""

    registry: Registry
    catalog: TemplateCatalog
    settings: Settings | None = None  # staff roles and channel settings, for action checks

    @property
    def channel_names(self) -> Sequence[str]:
        return self.registry.channels.names()

    def template_problems(self, template: str, channel: str) -> list[str]:
        return self.catalog.problems(template, channel, self.registry.features.names())


@dataclass
class App:
    settings: Settings
    pm: pluggy.PluginManager
    registry: Registry
    _store: Store | None = field(default=None, repr=False)
    _catalog: TemplateCatalog | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.resolved_database_url)
        return self._store

    @property
    def catalog(self) -> TemplateCatalog:
        if self._catalog is None:
            self._catalog = TemplateCatalog.from_settings(self.settings, self.registry)
        return self._catalog

    def check_env(self) -> RuleCheckEnv:
        return RuleCheckEnv(self.registry, self.catalog, self.settings)

    def rule_paths(self, paths: Sequence[Path] = ()) -> list[Path]:
        return list(paths) or self.settings.rule_dirs

    def load_rules(self, paths: Sequence[Path] = ()) -> RuleSet:
        """The validated rule set; raises RuleProblems listing every problem."""
        return load_rules(
            self.rule_paths(paths), self.registry, self.check_env(), self.settings.zone
        )

    def check_rules(self, paths: Sequence[Path] = ()) -> tuple[RuleSet, list[Problem]]:
        return check_rules(
            self.rule_paths(paths), self.registry, self.check_env(), self.settings.zone
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


def build_app(
    config: Path | None = None,
    *,
    settings: Settings | None = None,
    pm: pluggy.PluginManager | None = None,
) -> App:
    """Load settings (unless given), plugins and their vocabulary."""
    settings = settings or load_settings(config)
    pm = pm or make_plugin_manager()
    return App(settings=settings, pm=pm, registry=build_registry(pm, settings))
