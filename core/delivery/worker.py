"""One delivery run's worker: prepare a claimed batch (guards, features, rendering), send it.

:meth:`Worker.prepare` runs in a thread while the previous batch is still sending; it
claims rows, decides each one with the guards of :mod:`core.guards` (recording
suppressions, deferrals and holds), computes the features the templates need and
renders. :meth:`Worker.send` sends the rendered messages concurrently (``workers`` at a
time) and hands each outcome to the :class:`core.delivery.claim.Marker`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings, show_duration
from core.delivery.claim import Marker, claim
from core.delivery.decide import Decider, Due, load_facts, stamp_recorded
from core.delivery.ids import backoff_seconds, message_id
from core.delivery.render import registry_for, rule_info, template_features, zone_of
from core.delivery.summary import DeliverySummary
from core.errors import ChannelUnavailable, PermanentDeliveryError, TemplateError
from core.features import feature_rows
from core.guards import Decision, Verdict
from core.guards.blast_radius import BlastRadiusGuard
from core.guards.caps import CapBook
from core.registry import Registry
from core.store import Store
from core.templates import TemplateCatalog, build_context
from core.vocabulary import Channel, FeatureContext, OutgoingMessage

log = logging.getLogger("patron.delivery")


@dataclass
class DeliveryState:
    """What outlives one delivery run in a daemon: guard memory and template analysis."""

    blast: BlastRadiusGuard
    caps: CapBook
    template_needs: dict[tuple[int, str], frozenset[str] | None] = field(default_factory=dict)
    subsets: dict[frozenset[str], Registry] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryState:
        return cls(
            BlastRadiusGuard.from_settings(settings.delivery.blast_radius),
            CapBook(settings.delivery.caps),
        )


@dataclass
class Ready:
    """A rendered message waiting for its channel."""

    row: dict[str, Any]
    channel: Channel
    message: OutgoingMessage


class Worker:
    """Delivers one run's batches; see the module docstring."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        settings: Settings,
        catalog: TemplateCatalog,
        channels: Mapping[str, Channel],
        marker: Marker,
        state: DeliveryState,
        *,
        now: int,
        max_attempts: int,
        lease_seconds: int,
        rng: random.Random,
        rule_descriptions: Mapping[str, str],
    ) -> None:
        self.store, self.registry, self.settings, self.catalog = store, registry, settings, catalog
        self.channels = channels
        self.marker = marker
        self.state = state
        self.now = now
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.deadline = settings.delivery.deadline
        self.rng = rng
        self.rule_descriptions = rule_descriptions
        self.summary = DeliverySummary()
        self.decider = Decider(registry, settings, channels, state.blast, state.caps, now)
        self.down: dict[str, str] = {}  # channel name → why it is unavailable this run

    # -- outcomes ----------------------------------------------------------------------

    def fail(self, row: Mapping[str, Any], error: str, *, attempted: bool = False) -> None:
        log.warning(
            "message failed: %s",
            error,
            extra={"event": "message.failed", "ledger": row["id"], "rule": row["rule_id"]},
        )
        self.marker.failed(row, error, attempted=attempted)
        self.summary.count_failed((row.get("args") or {}).get("channel"))

    def suppress(self, row: Mapping[str, Any], reason: str) -> None:
        log.info(
            "message suppressed: %s",
            reason,
            extra={"event": "message.suppressed", "ledger": row["id"], "rule": row["rule_id"]},
        )
        self.marker.suppressed(row, reason)
        self.summary.suppress(reason)

    def apply(self, row: Mapping[str, Any], verdict: Verdict) -> None:
        if verdict.decision is Decision.SUPPRESS:
            self.suppress(row, verdict.reason)
        elif verdict.decision is Decision.FAIL:
            self.fail(row, verdict.reason)
        elif verdict.decision is Decision.DEFER:
            assert verdict.until is not None
            self.marker.deferred(row, verdict.until, verdict.reason)
            self.summary.deferred += 1
        else:
            self.summary.held += 1

    def retry(self, row: Mapping[str, Any], error: str) -> None:
        attempts = row["attempts"] + 1
        if attempts >= self.max_attempts:
            self.fail(row, f"gave up after {attempts} attempts: {error}", attempted=True)
            return
        next_at = self.now + backoff_seconds(attempts, self.rng)
        if next_at > row.get("recorded_at", row["created_at"]) + self.deadline:
            self.fail(
                row,
                f"gave up after {attempts} attempts (deadline "
                f"{show_duration(self.deadline)} after the firing): {error}",
                attempted=True,
            )
            return
        log.info(
            "attempt %s failed, will retry: %s",
            attempts,
            error,
            extra={"event": "message.retry", "ledger": row["id"], "rule": row["rule_id"]},
        )
        self.marker.retry(row, next_at, error)
        self.summary.retried += 1

    # -- preparing a batch ---------------------------------------------------------------

    def prepare(self, size: int) -> tuple[int, list[Ready]] | None:
        """Claim up to ``size`` rows; (rows claimed, the ones to send now), None if none due."""
        rows = claim(self.store, self.now, size, self.lease_seconds)
        if not rows:
            return None
        with self.store.begin() as conn:
            stamp_recorded(conn, rows)
            facts = load_facts(conn, {r["customer_id"] for r in rows}, self.now)
            if self.state.caps.caps:
                self.state.caps.load(conn, facts.customers, self.now)
            due: list[Due] = []
            for row in rows:
                decided = self.decider.decide(conn, row, facts)
                if isinstance(decided, Verdict):
                    self.apply(row, decided)
                else:
                    due.append(decided)
        return len(rows), self._render(due)

    def _needs(self, template: str) -> frozenset[str] | None:
        key = (id(self.catalog), template)
        if key not in self.state.template_needs:
            self.state.template_needs[key] = template_features(
                self.catalog, template, self.registry.features.names()
            )
        return self.state.template_needs[key]

    def _features(self, due: list[Due]) -> dict[int, dict[int, dict[str, Any]]]:
        """Feature values by firing instant, then customer: only what the templates read."""
        by_instant: dict[int, set[int]] = defaultdict(set)
        needed: set[str] = set()
        everything = False
        for item in due:
            by_instant[item.row["created_at"]].add(item.row["customer_id"])
            needs = self._needs(item.template)
            if needs is None:
                everything = True
            else:
                needed |= needs
        if not by_instant or (not needed and not everything):
            return {}
        registry = self.registry if everything else self._subset(frozenset(needed))
        found: dict[int, dict[int, dict[str, Any]]] = {}
        with self.store.begin() as conn:
            for instant, ids in by_instant.items():
                ctx = FeatureContext(instant, self.settings, self.store)
                found[instant] = feature_rows(conn, registry, ctx, ids)
        return found

    def _subset(self, names: frozenset[str]) -> Registry:
        if names not in self.state.subsets:
            self.state.subsets[names] = registry_for(self.registry, names)
        return self.state.subsets[names]

    def _render(self, due: list[Due]) -> list[Ready]:
        features = self._features(due)
        ready: list[Ready] = []
        for item in due:
            row, customer = item.row, item.customer
            values = features.get(row["created_at"], {}).get(row["customer_id"], {})
            zone = zone_of(customer.get("timezone"), self.settings)
            rule = rule_info(row, self.rule_descriptions)
            context = build_context(
                customer, values, rule, row["created_at"], zone, self.settings.currency
            )
            try:
                rendered = self.catalog.render(item.template, item.locale, context)
            except TemplateError as exc:
                self.fail(row, str(exc))
                continue
            message = OutgoingMessage(
                ledger_id=row["id"],
                idempotency_key=row["idempotency_key"],
                message_id=message_id(row["idempotency_key"]),
                channel=item.channel.name,
                to=item.address,
                subject=rendered.subject,
                body=rendered.body,
                html=rendered.html,
                headers={"X-Patron-Category": row["category"]},
                customer_external_id=customer["external_id"],
                rule_id=row["rule_id"],
                locale=rendered.locale,
            )
            ready.append(Ready(row, item.channel, message))
        return ready

    # -- sending -------------------------------------------------------------------------

    async def send(self, ready: list[Ready], workers: int, stop: asyncio.Event | None) -> None:
        """Send concurrently; once ``stop`` is set, unsent messages are given back."""
        queue = iter(ready)

        async def sender() -> None:
            for item in queue:
                if stop is not None and stop.is_set():
                    self.marker.released(item.row)
                    self.summary.released += 1
                elif item.channel.name in self.down:
                    self.retry(item.row, self.down[item.channel.name])
                else:
                    await self.send_one(item)

        await asyncio.gather(*(sender() for _ in range(max(1, workers))))

    async def send_one(self, item: Ready) -> None:
        row, message = item.row, item.message
        try:
            await item.channel.send(message)
        except PermanentDeliveryError as exc:
            self.fail(row, str(exc) or type(exc).__name__, attempted=True)
        except ChannelUnavailable as exc:
            error = str(exc) or type(exc).__name__
            self.down[item.channel.name] = error
            log.error(
                "channel %s unavailable: %s",
                item.channel.name,
                error,
                extra={"event": "channel.down", "channel": item.channel.name},
            )
            self.retry(row, error)
        except Exception as exc:  # TransientDeliveryError, and anything unexpected: retry
            self.retry(row, str(exc) or type(exc).__name__)
        else:
            self.marker.sent(row)
            self.summary.count_sent(item.channel.name, self.now - row["created_at"])
            log.info(
                "message sent",
                extra={
                    "event": "message.sent",
                    "ledger": row["id"],
                    "rule": row["rule_id"],
                    "customer": message.customer_external_id,
                    "channel": item.channel.name,
                    "to": message.to,
                },
            )


__all__ = ["DeliveryState", "Ready", "Worker"]
