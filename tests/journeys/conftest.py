"""Helpers for journey tests: an app over the parametrized store, cycles, state queries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pluggy
import pytest
from sqlalchemy import select

from core.app import App, build_app
from core.config import Settings
from core.cycle import CycleSummary, run_cycle
from core.journeys.tables import enrollments, step_runs
from core.plugins import make_plugin_manager
from core.store import LedgerEntry, Store
from core.store.ledger_args import ledger_rows
from core.store.tables import table_of
from tests.cycle.conftest import at, write_rules, write_template

ledger = table_of(LedgerEntry)
TEMPLATES = ("churn/a", "churn/b", "churn/c")
OTHER_PLUGINS = ("care", "tiering")


@pytest.fixture
def journey_app(store: Store, settings: Settings) -> Callable[..., App]:
    """``journey_app(yaml, pm=None)``: write the rules, build a fresh App (a restarted daemon).

    Journeys are core: the default plugin manager leaves out the care and tiering plugins
    so these tests exercise the engine, the churn plugin and nothing else.
    """
    for name in TEMPLATES:
        for locale in ("en", "zh-CN"):
            write_template(settings, name, locale, name, f"{name} {{{{ customer.name }}}}")

    def build(text: str | None = None, pm: pluggy.PluginManager | None = None) -> App:
        if text is not None:
            write_rules(settings, text)
        app = build_app(settings=settings, pm=pm or make_plugin_manager(block=OTHER_PLUGINS))
        app._store = store
        return app

    return build


def cycle(app: App, when: str, **options: Any) -> CycleSummary:
    """One cycle of the app's freshly loaded rules as of ``when`` (UTC).

    The PostgreSQL cycle lock is server-wide: another test run on the same server can
    hold it for a moment, and the cycle is then skipped. Try again, as a daemon would.
    """
    rules = app.load_rules()
    for _attempt in range(100):
        summary = run_cycle(app.store, app.registry, app.settings, rules, at(when), **options)
        if summary.skipped is None:
            return summary
        time.sleep(0.1)
    raise AssertionError(f"cycle skipped: {summary.skipped}")


def journey_state(store: Store) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(select(enrollments).order_by(enrollments.c.id)).mappings()
        return [dict(r) for r in rows]


def messages(store: Store) -> list[tuple[str, int, int, str]]:
    """(rule id, customer id, step index, template) of every ledger row."""
    with store.begin() as conn:
        rows = ledger_rows(conn, select(ledger))
    return sorted(
        (r["rule_id"], r["customer_id"], r["action_index"], r["args"]["template"]) for r in rows
    )


def step_outcomes(store: Store) -> list[tuple[int, int, str]]:
    with store.begin() as conn:
        rows = conn.execute(
            select(step_runs.c.enrollment_id, step_runs.c.step, step_runs.c.outcome)
        ).all()
    return sorted((int(e), int(s), str(o)) for e, s, o in rows)


__all__ = ["at", "cycle", "journey_state", "messages", "step_outcomes"]
