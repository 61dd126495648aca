"""Replay history through the daemon's code path in a scratch store.

The scratch store (a temporary SQLite file) gets a copy of the customers and events of
the real store — read in chunks, from SQLite or PostgreSQL alike — and nothing else: an
empty ledger, no journey or tier history. Events a stage derives (``tier_changed``,
any event type registered with ``derived=True``) are left behind too: the replay's own
stages derive them again at the instants they happen, instead of seeing the real
store's copies from its later cycles. Then, at every step instant, the same two
calls as ``patron run --once``: a cycle (rules evaluated when their schedule is due,
once_per windows, tier and churn stages, journeys with their holdouts) and a delivery
run whose channels record instead of sending (consent, caps and quiet hours decide as
in production). Features only ever see events up to the cycle's instant.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select

from core.app import App, build_app
from core.config import Settings
from core.delivery.recording import cycle_then_deliver, recording_channels
from core.rules import RuleSet
from core.store import Customer, Event, Store
from core.store.tables import table_of
from core.vocabulary import OutgoingMessage

CHUNK = 20_000
Progress = Callable[[int, int], None]  # (cycles done, cycles in all)


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    step: int

    def instants(self) -> list[int]:
        return list(range(self.start, self.end + 1, self.step))


@contextmanager
def scratch_copy(source: Store, settings: Settings) -> Iterator[App]:
    """An App over a temporary SQLite store holding a copy of ``source``'s customers and
    events (ids kept), with the settings' rules, templates and plugins."""
    with tempfile.TemporaryDirectory(prefix="patron-backtest-") as folder:
        scratch = settings.model_copy(
            update={
                "database_url": f"sqlite:///{Path(folder) / 'backtest.db'}",
                "outbox_dir": Path(folder) / "outbox",
            }
        )
        app = build_app(settings=scratch)
        try:
            derived = [t.name for t in app.registry.event_types.items.values() if t.derived]
            _copy(source, app.store, derived)
            yield app
        finally:
            app.close()


def _copy(source: Store, target: Store, derived_types: list[str]) -> None:
    for model in (Customer, Event):
        table = table_of(model)
        query = select(table).order_by(table.c.id)
        if model is Event and derived_types:
            query = query.where(table.c.type.not_in(derived_types))
        with source.engine.connect() as read, target.begin() as write:
            rows = read.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
            for chunk in rows.mappings().partitions(CHUNK):
                write.execute(insert(table), [dict(row) for row in chunk])


def replay(app: App, rules: RuleSet, window: Window, progress: Progress | None = None) -> int:
    """Run a cycle and a delivery at every instant of ``window``; return messages recorded."""
    instants = window.instants()
    recorded: list[OutgoingMessage] = []
    channels = recording_channels(app.registry, app.settings, recorded)
    for done, as_of in enumerate(instants, 1):
        cycle_then_deliver(app, rules, as_of, channels)
        if progress is not None:
            progress(done, len(instants))
    return len(recorded)
