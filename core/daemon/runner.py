"""The daemon's event loop: scheduled cycles, continuous delivery, reloads, clean shutdown.

Four tasks share one asyncio loop:

* **cycles** — scheduler jobs (one per rule) ask for a cycle; the cycle runs in a thread
  (one transaction; on PostgreSQL only one daemon runs it, the others skip), then wakes
  delivery;
* **delivery** — claims and sends due messages over persistent channel connections,
  then waits for a cycle or ``delivery.poll_interval``;
* **watch** — polls rule and template files; a valid edit is swapped in, a bad one is
  logged and ignored;
* **metrics** — the optional localhost endpoint.

SIGTERM or SIGINT sets ``stop``: no new cycle or batch starts, messages in flight finish
(up to ``daemon.shutdown_grace``), claimed messages not yet sent are given back, a
running cycle commits, channels close, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, or_, select

from core.app import App
from core.cycle import due_rules, run_cycle
from core.daemon.metrics import Metrics, MetricsServer
from core.daemon.reload import LiveSet, Watcher, load_live_set
from core.daemon.schedule import (
    catch_up_plan,
    last_runs,
    mark_evaluated,
    missed_ticks,
    schedule_rules,
)
from core.delivery import DeliveryState, build_channels, deliver_pending
from core.delivery.claim import SEND_ACTION
from core.errors import ProblemsError, RuleProblems
from core.store import LedgerEntry, LedgerStatus
from core.store.tables import table_of
from core.vocabulary import Channel

log = logging.getLogger("patron.daemon")
LOCKED_RETRY_SECONDS = 3
ledger = table_of(LedgerEntry)


class Daemon:
    """``patron daemon`` (see the module docstring). Build it, then ``await run()``."""

    def __init__(self, app: App, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.settings = app.settings
        self.clock = clock
        self.stop = asyncio.Event()
        self.metrics = Metrics()
        self.state = DeliveryState.from_settings(app.settings)
        self.live: LiveSet | None = None
        self.previous: LiveSet | None = None
        self.channels: dict[str, Channel] = {}
        self._cycle_wanted = asyncio.Event()
        self._delivery_wanted = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self._watcher: Watcher | None = None
        self.last_cycle: float | None = None
        self.metrics_port: int | None = None

    # -- start ---------------------------------------------------------------------------

    def load(self) -> None:
        """Validate rules and templates; raise RuleProblems when they have errors."""
        live, problems = load_live_set(self.app)
        for problem in problems:
            log.warning(str(problem), extra={"event": "rules.problem"})
        if live is None:
            raise RuleProblems(problems)
        self.live = live
        self._watcher = Watcher(self.app, live.fingerprint)

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or ``stop`` is set); return the exit status."""
        if self.live is None:
            self.load()
        assert self.live is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
        self.channels = build_channels(self.app.registry, self.settings)
        server = await self._start_metrics()
        await asyncio.to_thread(self._catch_up)
        self._scheduler = AsyncIOScheduler(timezone=self.settings.zone)
        schedule_rules(
            self._scheduler, self.live.rules.rules, self.settings.zone, self.request_cycle
        )
        self._scheduler.start()
        log.info(
            "daemon started with %s rules",
            len(self.live.rules.rules),
            extra={"event": "daemon.started", "store": self.app.store.dialect},
        )
        tasks = [
            asyncio.create_task(self._cycles(), name="cycles"),
            asyncio.create_task(self._deliveries(), name="delivery"),
        ]
        if self.settings.daemon.reload:
            tasks.append(asyncio.create_task(self._watch(), name="watch"))
        try:
            await self.stop.wait()
        finally:
            await self._shutdown(tasks, server)
        return 0

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info(
            "%s received: finishing in-flight work", sig.name, extra={"event": "daemon.stopping"}
        )
        self.stop.set()

    async def _start_metrics(self) -> MetricsServer | None:
        options = self.settings.daemon.metrics
        if not options.enabled:
            return None
        server = MetricsServer(
            self.metrics, self.health, options.host, options.port, refresh=self._queue_depth
        )
        self.metrics_port = await server.start()
        log.info(
            "metrics on http://%s:%s/metrics",
            options.host,
            self.metrics_port,
            extra={"event": "metrics.listening"},
        )
        return server

    def health(self) -> dict[str, Any]:
        return {
            "status": "stopping" if self.stop.is_set() else "ok",
            "rules": len(self.live.rules.rules) if self.live else 0,
            "last_cycle": self.last_cycle,
        }

    # -- cycles --------------------------------------------------------------------------

    def request_cycle(self, rule_id: str = "") -> None:
        """Ask for a cycle (scheduler jobs call this); requests while one runs coalesce."""
        self._cycle_wanted.set()

    def _catch_up(self) -> None:
        assert self.live is not None
        rules = self.live.rules.rules
        now = int(self.clock())
        last = last_runs(self.app.store)
        policy = self.settings.daemon.catch_up
        if policy == "skip":
            skipped = sorted(missed_ticks(rules, last, now))
            mark_evaluated(self.app.store, skipped, now)
            if skipped:
                log.info(
                    "missed ticks skipped for %s",
                    ", ".join(skipped),
                    extra={"event": "catch_up.skipped"},
                )
        for as_of, rule_ids in catch_up_plan(policy, rules, last, now):
            if self.stop.is_set():
                return
            log.info(
                "catching up %s rule(s)",
                len(rule_ids),
                extra={"event": "catch_up.cycle", "as_of": as_of},
            )
            self._run_cycle(as_of, only=rule_ids)

    def _run_cycle(self, as_of: int, only: list[str] | None = None) -> bool:
        """One cycle as of ``as_of``; False when another process held the cycle lock."""
        live = self.live
        assert live is not None
        selected = [r for r in live.rules.rules if not only or r.id in only]
        try:
            last = last_runs(self.app.store)
        except Exception:
            last = {}
        if not any(due for _, due in due_rules(selected, last, as_of, force=False)):
            return True  # another daemon evaluated them already: no feature computation
        try:
            summary = run_cycle(
                self.app.store,
                self.app.registry,
                self.settings,
                live.rules,
                as_of,
                only=only or (),
                pm=self.app.pm,
            )
        except Exception:
            self.metrics.inc("patron_cycles_total", outcome="error")
            log.exception("cycle failed", extra={"event": "cycle.failed", "as_of": as_of})
            return True
        if summary.skipped:
            self.metrics.inc("patron_cycles_total", outcome="skipped")
            log.info(summary.skipped, extra={"event": "cycle.skipped", "as_of": as_of})
            return False
        self.metrics.inc("patron_cycles_total", outcome="ok")
        self.last_cycle = self.clock()
        self.metrics.set("patron_last_cycle_timestamp_seconds", self.last_cycle)
        for outcome in summary.outcomes:
            if outcome.due:
                self.metrics.inc("patron_rule_matches_total", outcome.new, rule=outcome.rule_id)
                if outcome.new:
                    log.info(
                        "rule fired for %s customers",
                        outcome.new,
                        extra={
                            "event": "rule.fired",
                            "rule": outcome.rule_id,
                            "matched": outcome.matched,
                        },
                    )
        log.info(
            "cycle finished: %s new firings",
            summary.new,
            extra={"event": "cycle.finished", "cycle": summary.cycle_id, "as_of": as_of},
        )
        self._delivery_wanted.set()
        return True

    async def _cycles(self) -> None:
        while not self.stop.is_set():
            await self._cycle_wanted.wait()
            self._cycle_wanted.clear()
            if self.stop.is_set():
                return
            if not await asyncio.to_thread(self._run_cycle, int(self.clock())):
                # Another daemon holds the cycle lock; its cycle may have started before
                # our tick, so look again shortly rather than miss the tick.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), LOCKED_RETRY_SECONDS)
                self._cycle_wanted.set()

    # -- delivery ------------------------------------------------------------------------

    async def _deliveries(self) -> None:
        options = self.settings.delivery
        while not self.stop.is_set():
            live = self.live
            assert live is not None
            try:
                summary = await deliver_pending(
                    self.app.store,
                    self.app.registry,
                    self.settings,
                    live.catalog,
                    now=int(self.clock()),
                    limit=options.batch_size * 5,
                    channels=self.channels,
                    rule_descriptions=live.descriptions,
                    state=self.state,
                    stop=self.stop,
                )
            except Exception:
                log.exception("delivery run failed", extra={"event": "delivery.failed"})
                summary = None
            if summary is not None:
                self.metrics.delivery(summary)
                if summary.held:
                    log.warning(
                        "%s messages held by the blast-radius guard; see `patron release`",
                        summary.held,
                        extra={"event": "delivery.held"},
                    )
                if summary.total:
                    continue  # more may be due right away
            await asyncio.to_thread(self._queue_depth)
            self._delivery_wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._delivery_wanted.wait(), options.poll_interval)

    def _queue_depth(self) -> None:
        now = int(self.clock())
        pending = ledger.c.status == LedgerStatus.PENDING.value
        due = or_(ledger.c.next_attempt_at.is_(None), ledger.c.next_attempt_at <= now)
        try:
            with self.app.store.begin() as conn:
                rows = conn.execute(
                    select(due.label("due"), func.count())
                    .where(pending, ledger.c.action == SEND_ACTION)
                    .group_by(due)
                ).all()
        except Exception:
            return
        counts = {bool(is_due): n for is_due, n in rows}
        self.metrics.set("patron_queue_depth", counts.get(True, 0), state="due")
        self.metrics.set("patron_queue_depth", counts.get(False, 0), state="waiting")

    # -- reload --------------------------------------------------------------------------

    async def _watch(self) -> None:
        interval = self.settings.daemon.watch_interval
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), interval)
            if self.stop.is_set() or self._watcher is None:
                return
            if await asyncio.to_thread(self._watcher.changed):
                await asyncio.to_thread(self.reload)

    def reload(self) -> bool:
        """Validate the files now on disk; swap them in when valid. True when swapped."""
        live, problems = load_live_set(self.app)
        if live is None:
            self.metrics.inc("patron_reloads_total", outcome="rejected")
            for problem in problems:
                log.error(str(problem), extra={"event": "reload.problem"})
            log.error(
                "rule or template change rejected (%s problem(s)); the last good set keeps running",
                len(problems),
                extra={"event": "reload.rejected"},
            )
            return False
        old, self.previous, self.live = self.previous, self.live, live  # the swap
        if old is not None:
            old.discard()  # two generations back: no delivery run still renders with it
        if self._scheduler is not None:
            schedule_rules(
                self._scheduler, live.rules.rules, self.settings.zone, self.request_cycle
            )
        self.metrics.inc("patron_reloads_total", outcome="applied")
        log.info(
            "rules and templates reloaded: %s rules",
            len(live.rules.rules),
            extra={"event": "reload.applied"},
        )
        self.request_cycle()  # a new or changed rule may be due now
        return True

    # -- stop ----------------------------------------------------------------------------

    async def _shutdown(
        self, tasks: list[asyncio.Task[None]], server: MetricsServer | None
    ) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self._delivery_wanted.set()  # wake the waiting loops so they see ``stop``
        self._cycle_wanted.set()
        grace = self.settings.daemon.shutdown_grace
        done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            log.warning(
                "%s did not finish within %ss; cancelling",
                task.get_name(),
                grace,
                extra={"event": "daemon.cancelled"},
            )
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error(
                    "task %s failed: %s",
                    task.get_name(),
                    task.exception(),
                    extra={"event": "daemon.error"},
                )
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close()
        if server is not None:
            await server.close()
        for live in (self.previous, self.live):
            if live is not None:
                live.discard()
        log.info("daemon stopped", extra={"event": "daemon.stopped"})


async def run_daemon(app: App) -> int:
    """Build and run a :class:`Daemon` (the CLI's entry point); ProblemsError if rules are bad."""
    daemon = Daemon(app)
    try:
        daemon.load()
    except ProblemsError:
        raise
    return await daemon.run()


__all__ = ["Daemon", "run_daemon"]
