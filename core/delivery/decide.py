"""Deciding one claimed row: may it go out now, and to whom? (the guards, in order)

See :mod:`core.guards` for the order and the reasons. A row that may go out becomes a
:class:`Due` (channel, recipient address and locale); any other gets a
:class:`core.guards.Verdict`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from core.config import Settings, show_duration
from core.delivery.channels import address_field, no_address_reason
from core.delivery.recipients import Recipient, resolve_recipient
from core.delivery.render import zone_of
from core.guards import Decision, Verdict, suppress
from core.guards.address import address_problem
from core.guards.blast_radius import BlastRadiusGuard
from core.guards.caps import CapBook
from core.guards.consent import ConsentEvent, consent_reason
from core.guards.quiet_hours import quiet_hours_reason, quiet_until, show_local
from core.registry import Registry
from core.store import Customer, CycleRun, Event
from core.store.tables import table_of
from core.suggest import did_you_mean
from core.vocabulary import Channel

customers = table_of(Customer)
events = table_of(Event)
cycles = table_of(CycleRun)


@dataclass
class Due:
    row: dict[str, Any]
    channel: Channel
    template: str
    customer: dict[str, Any]
    address: str
    locale: str | None  # the recipient's: the customer's, or a staff member's


@dataclass
class Facts:
    customers: dict[int, dict[str, Any]]
    consent: dict[int, list[ConsentEvent]]


def stamp_recorded(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """``recorded_at``: when the firing was written (its cycle's start, or its instant).

    Deadlines count from then, so a cycle run today as of a past instant still delivers,
    while messages left over from before a long outage expire.
    """
    ids = {r["cycle_id"] for r in rows if r["cycle_id"] is not None}
    started: dict[int, int] = {}
    if ids:
        query = select(cycles.c.id, cycles.c.started_at).where(cycles.c.id.in_(ids))
        started = {cycle_id: at for cycle_id, at in conn.execute(query)}
    for row in rows:
        row["recorded_at"] = max(row["created_at"], started.get(row["cycle_id"], 0))


def load_facts(conn: Connection, customer_ids: set[int], now: int) -> Facts:
    """The customers of a batch and their (un)subscribe events up to ``now``."""
    found = conn.execute(select(customers).where(customers.c.id.in_(customer_ids))).mappings()
    consent: dict[int, list[ConsentEvent]] = defaultdict(list)
    query = (
        select(events.c.customer_id, events.c.type, events.c.payload)
        .where(
            events.c.customer_id.in_(customer_ids),
            events.c.type.in_(["subscribe", "unsubscribe"]),
            events.c.occurred_at <= now,
        )
        .order_by(events.c.customer_id, events.c.occurred_at, events.c.id)
    )
    for customer_id, kind, payload in conn.execute(query):
        consent[customer_id].append(ConsentEvent.from_payload(kind, payload))
    return Facts({int(c["id"]): dict(c) for c in found}, consent)


class Decider:
    """The guards for one delivery run (``now`` fixed), with the run's cap and hold memory."""

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        channels: Mapping[str, Channel],
        blast: BlastRadiusGuard,
        caps: CapBook,
        now: int,
    ) -> None:
        self.registry, self.settings, self.channels = registry, settings, channels
        self.blast, self.caps = blast, caps
        self.now = now
        self.deadline = settings.delivery.deadline

    def decide(self, conn: Connection, row: dict[str, Any], facts: Facts) -> Due | Verdict:
        """The guards, in order (see core.guards); a _Due when the row may go out now."""
        args = row["args"] or {}
        name, template, to = args.get("channel"), args.get("template"), args.get("to")
        if not isinstance(name, str) or not isinstance(template, str):
            return Verdict(Decision.FAIL, f"ledger args lack a channel or a template: {args!r}")
        channel = self.channels.get(name)
        if channel is None:
            known = did_you_mean(name, self.channels)
            return Verdict(Decision.FAIL, f"channel '{name}' is not configured{known}")
        customer = facts.customers.get(row["customer_id"])
        if customer is None:
            return Verdict(Decision.FAIL, f"customer {row['customer_id']} not found")
        expires = row["recorded_at"] + self.deadline
        if self.now > expires:
            return suppress(
                f"expired: not sent within {show_duration(self.deadline)} of the firing"
            )
        held = self.blast.check(conn, row["rule_id"], row["created_at"], self.now)
        if held is not None:
            return Verdict(Decision.HOLD, held)
        # A channel for staff only (task) addresses the account manager unless told otherwise.
        to = to or getattr(channel, "default_to", None)
        recipient = resolve_recipient(to, customer, self.settings.staff)
        fallback = getattr(channel, "fallback_to", None)
        if isinstance(recipient, str) and fallback:
            recipient = resolve_recipient(fallback, customer, self.settings.staff)
        if isinstance(recipient, str):
            failed = recipient.startswith("staff role")
            return Verdict(Decision.FAIL if failed else Decision.SUPPRESS, recipient)
        address = channel.address_of(dict(recipient.record))
        field_name = address_field(channel)
        if not address:
            return suppress(self._no_address(channel, recipient))
        if (problem := address_problem(field_name, address)) is not None:
            return suppress(problem if not recipient.is_staff else f"{recipient.label}: {problem}")
        if not recipient.is_staff:
            verdict = self._customer_guards(row, name, channel, customer, facts, expires)
            if verdict is not None:
                return verdict
        locale = recipient.record.get("locale")
        return Due(row, channel, template, customer, address, locale)

    def _no_address(self, channel: Channel, recipient: Recipient) -> str:
        reason = no_address_reason(channel)
        return reason if not recipient.is_staff else f"{recipient.label} has {reason}"

    def _customer_guards(
        self,
        row: Mapping[str, Any],
        name: str,
        channel: Channel,
        customer: Mapping[str, Any],
        facts: Facts,
        expires: int,
    ) -> Verdict | None:
        kind = self.registry.channels.items.get(name)
        consent_key = kind.consent_key if kind else None
        category = row["category"]
        reason = consent_reason(
            customer,
            facts.consent.get(customer["id"], []),
            name,
            consent_key,
            category,
            self.settings.delivery.consent.opt_in,
        )
        if reason is not None:
            return suppress(reason)
        window = self.settings.delivery.quiet_hours.get(name)
        if window is not None:
            zone = zone_of(customer.get("timezone"), self.settings)
            until = quiet_until(window, self.now, zone)
            if until is not None:
                if until > expires:
                    return suppress(
                        f"expired: quiet hours {window} last until {show_local(until, zone)}, "
                        "past the delivery deadline"
                    )
                return Verdict(Decision.DEFER, quiet_hours_reason(window, until, zone), until)
        capped = self.caps.check(customer["id"], category, self.now)
        if capped is not None:
            return suppress(capped)
        self.caps.approve(customer["id"], row["id"], category, self.now)
        return None


__all__ = ["Decider", "Due", "Facts", "load_facts", "stamp_recorded"]
