"""Helpers for the care plugin's tests: an app over the parametrized store, cycles, tickets."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy
import pytest
from sqlalchemy import select

from core.app import App, build_app
from core.config import Settings, StaffMember
from core.cycle import CycleSummary, run_cycle
from core.plugins import make_plugin_manager
from core.rules import RuleSet
from core.store import LedgerEntry, Store
from core.store.ledger_args import ledger_rows
from core.store.tables import table_of
from plugins.care.tickets import care_tickets
from tests.cycle.conftest import add_event, at, write_template

ledger = table_of(LedgerEntry)

STAFF_TEMPLATES = ("service/esc_agent", "service/esc_supervisor", "service/esc_manager")


def write_section(settings: Settings, text: str, name: str = "service.yaml") -> None:
    folder = settings.rule_dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def ticket_event(
    store: Store, customer_id: int, kind: str, when: str, ref: str = "T1", **payload: Any
) -> None:
    add_event(
        store,
        customer_id,
        f"complaint_{kind}",
        when,
        ref=ref,
        payload=payload or None,
    )


@dataclass
class Care:
    """An app over the test store, and what the tests ask of it."""

    app: App
    store: Store
    settings: Settings
    only: tuple[str, ...] = ()  # rule ids to evaluate (all when empty)
    _rules: RuleSet | None = None

    def cycle(self, when: str, *, dry_run: bool = False) -> CycleSummary:
        """One forced cycle; waits while another test's cycle holds PostgreSQL's cycle lock
        (the lock is per database, and other test sessions may share the server)."""
        if self._rules is None:
            self._rules = self.app.load_rules()  # once: loading checks every template
        rules = self._rules
        for _ in range(600):
            summary = run_cycle(
                self.store,
                self.app.registry,
                self.settings,
                rules,
                at(when),
                force=True,
                dry_run=dry_run,
                only=self.only,
            )
            if summary.skipped is None:
                return summary
            time.sleep(0.05)
        raise AssertionError(f"the cycle lock stayed taken: {summary.skipped}")

    def tickets(self) -> list[dict[str, Any]]:
        with self.store.begin() as conn:
            rows = conn.execute(
                select(care_tickets).order_by(care_tickets.c.customer_id, care_tickets.c.ref)
            )
            return [dict(r) for r in rows.mappings()]

    def ticket(self, ref: str = "T1") -> dict[str, Any]:
        return next(t for t in self.tickets() if t["ref"] == ref)

    def escalations(self) -> list[tuple[int, str, str]]:
        """(customer_id, period, template) of escalation rows, in the order they were written."""
        with self.store.begin() as conn:
            rows = ledger_rows(
                conn,
                select(ledger).where(ledger.c.rule_id == "sla-escalation").order_by(ledger.c.id),
            )
        return [(r["customer_id"], r["period"], r["args"]["template"]) for r in rows]

    def fired(self, rule_id: str) -> list[tuple[int, str]]:
        with self.store.begin() as conn:
            rows = conn.execute(
                select(ledger.c.customer_id, ledger.c.period)
                .where(ledger.c.rule_id == rule_id, ledger.c.action_index == 0)
                .order_by(ledger.c.id)
            ).all()
        return [(r[0], r[1]) for r in rows]


def care_plugins() -> pluggy.PluginManager:
    """Every installed plugin but churn: its model fit in every cycle is not what these
    tests are about (the whole suite runs the plugins together)."""
    return make_plugin_manager(block=["churn"])


@pytest.fixture
def care(store: Store, settings: Settings) -> Callable[[], Care]:
    """Build a Care helper after the test wrote its rule files (templates are ready)."""
    for name in STAFF_TEMPLATES:
        for locale in ("en", "zh-CN"):
            write_template(
                settings,
                name,
                locale,
                "Ticket {{ ticket_ref }}",
                "Level {{ ticket_escalation_level }}",
            )

    staffed = settings.model_copy(
        update={
            "staff": {
                "supervisor": StaffMember(name="Supervisor", email="lead@example.com"),
                "manager": StaffMember(name="Manager", email="manager@example.com"),
            }
        }
    )

    def build() -> Care:
        app = build_app(settings=staffed, pm=care_plugins())
        app._store = store
        return Care(app, store, staffed)

    return build
