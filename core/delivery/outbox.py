"""The outbox: deliver the pending ``send`` rows of the ledger.

Record before effect: the cycle wrote each ledger row before anything leaves the system.
A delivery run claims due rows in batches (priority, then id; leased, so other workers
skip them), decides each with the send-time guards, renders it in the recipient's locale
with the features as of the firing's instant, sends it and records the outcome.

* The next batch is prepared in a thread while the current one is sending, and outcomes
  are recorded ``delivery.mark_every`` at a time: bookkeeping never waits for the wire.
* A crash between a send and its record re-sends at most the messages in flight (sent,
  not yet recorded), with the same deterministic Message-ID (:func:`message_id`).
* Outcomes: ``sent``; ``suppressed`` with a reason (see :mod:`core.guards`); ``failed``
  (a template that does not render, a PermanentDeliveryError, an unconfigured channel,
  too many attempts or the deadline passed); or still ``pending`` — retried with
  exponential backoff and jitter after a TransientDeliveryError, deferred by quiet
  hours, or held by the blast-radius guard.
* With ``stop`` set (the daemon got SIGTERM), no new batch is claimed, messages in
  flight finish, and claimed messages not yet started are given back at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from core.config import Settings
from core.delivery.channels import attach_channels, build_channels
from core.delivery.claim import Marker
from core.delivery.summary import DeliverySummary
from core.delivery.worker import DeliveryState, Ready, Worker
from core.registry import Registry
from core.store import Store
from core.templates import TemplateCatalog
from core.vocabulary import Channel

DEFAULT_MAX_ATTEMPTS = 25


async def deliver_pending(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    *,
    now: int,
    limit: int | None = None,
    batch_size: int | None = None,
    max_attempts: int | None = None,
    channels: Mapping[str, Channel] | None = None,
    rule_descriptions: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    lease_seconds: int | None = None,
    state: DeliveryState | None = None,
    stop: asyncio.Event | None = None,
) -> DeliverySummary:
    """Deliver the ``send`` rows due at ``now`` (at most about ``limit``), in batches.

    Options default to ``settings.delivery``. ``channels`` defaults to every configured
    channel (built, then closed here); raises ConfigError when channel settings are
    invalid. ``rule_descriptions`` fills ``rule.description`` in templates. ``state``
    keeps guard memory between runs (the daemon passes one).
    """
    options = settings.delivery
    size = batch_size or options.batch_size
    owned = channels is None
    active: Mapping[str, Channel] = (
        build_channels(registry, settings) if channels is None else channels
    )
    attach_channels(active, store)
    catalog.freeze()  # template files are read once per run (the daemon's are a snapshot)
    marker = Marker(store, now, options.mark_every)
    worker = Worker(
        store,
        registry,
        settings,
        catalog,
        active,
        marker,
        state or DeliveryState.from_settings(settings),
        now=now,
        max_attempts=max_attempts or options.max_attempts,
        lease_seconds=lease_seconds or options.lease,
        rng=rng or random.Random(),
        rule_descriptions=rule_descriptions or {},
    )
    remaining = limit

    def next_size() -> int:
        return size if remaining is None else min(size, remaining)

    prepared: asyncio.Future[tuple[int, list[Ready]] | None] | None = None
    try:
        prepared = asyncio.ensure_future(asyncio.to_thread(worker.prepare, next_size()))
        while prepared is not None:
            result = await prepared
            prepared = None
            if result is None:
                break
            claimed, batch = result
            if remaining is not None:
                remaining -= claimed
            stopping = stop is not None and stop.is_set()
            if not stopping and (remaining is None or remaining > 0):
                prepared = asyncio.ensure_future(asyncio.to_thread(worker.prepare, next_size()))
            await worker.send(batch, options.workers, stop)
            if stop is not None and stop.is_set() and prepared is not None:
                await _give_back(worker, prepared)
                prepared = None
    finally:
        if prepared is not None:  # an error while sending: the prefetched batch goes back
            await _give_back(worker, prepared)
        marker.flush()
        if owned:
            for channel in active.values():
                await channel.close()
    return worker.summary


async def _give_back(
    worker: Worker, prepared: asyncio.Future[tuple[int, list[Ready]] | None]
) -> None:
    try:
        result = await prepared
    except Exception:
        return
    for item in result[1] if result else []:
        worker.marker.released(item.row)
        worker.summary.released += 1


def deliver(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    *,
    now: int,
    limit: int | None = None,
    **options: Any,
) -> DeliverySummary:
    """:func:`deliver_pending` for synchronous callers (the CLI); same arguments."""
    return asyncio.run(
        deliver_pending(store, registry, settings, catalog, now=now, limit=limit, **options)
    )


__all__ = ["DEFAULT_MAX_ATTEMPTS", "DeliveryState", "deliver", "deliver_pending"]
