"""Fixtures for the tiering plugin's tests: an App with core + tiering only, cycles, reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Table, select

from core.app import App, build_app
from core.config import Settings
from core.cycle import CycleSummary, run_cycle
from core.features import feature_rows
from core.plugins import make_plugin_manager
from core.store import Store
from core.vocabulary import FeatureContext
from tests.cycle.conftest import at

# The other shipped plugins are left out, so these tests exercise tiering alone.
OTHER_PLUGINS = ("churn", "care", "core_journeys")


@pytest.fixture
def app(store: Store, settings: Settings) -> App:
    """core + tiering over the parametrized store, rules and templates in tmp_path."""
    built = build_app(settings=settings, pm=make_plugin_manager(block=OTHER_PLUGINS))
    built._store = store
    return built


@pytest.fixture
def cycle(app: App) -> Callable[..., CycleSummary]:
    """Run a forced cycle as of an ISO instant (rules re-read every time)."""

    def run(when: str, **options: Any) -> CycleSummary:
        rules = app.load_rules()
        for _ in range(200):
            summary = run_cycle(
                app.store, app.registry, app.settings, rules, at(when), force=True, **options
            )
            if summary.skipped is None:
                return summary
            # Another test process on the same PostgreSQL server holds the cycle lock.
            time.sleep(0.05)
        raise AssertionError(f"the cycle lock stayed taken: {summary.skipped}")

    return run


@pytest.fixture
def features(app: App) -> Callable[..., dict[int, dict[str, Any]]]:
    """feature_rows of some customers as of an ISO instant."""

    def read(when: str, ids: list[int]) -> dict[int, dict[str, Any]]:
        ctx = FeatureContext(as_of=at(when), settings=app.settings, store=app.store)
        with app.store.begin() as conn:
            return feature_rows(conn, app.registry, ctx, ids)

    return read


def rows(store: Store, table: Table, *columns: str, order: str = "") -> list[tuple[Any, ...]]:
    """The given columns of every row of ``table`` (ordered by ``order`` or the columns)."""
    cols = [table.c[name] for name in columns]
    query = select(*cols).order_by(*(table.c[order],) if order else cols)
    with store.begin() as conn:
        return [tuple(row) for row in conn.execute(query)]
