"""Send-time guards through the outbox, on SQLite and PostgreSQL, each leaving its reason."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.config import BlastRadius, FrequencyCap, QuietHours, Settings
from core.delivery import deliver
from core.guards.blast_radius import held_firings, release
from core.registry import Registry
from core.store import Store
from core.templates import TemplateCatalog

from .conftest import Book

DAY = 86400
TOKYO = ZoneInfo("Asia/Tokyo")
LONDON = ZoneInfo("Europe/London")


def instant(text: str, zone: ZoneInfo) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp())


def test_consent_revoked_between_the_cycle_and_the_send(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    ada = book.customer("C1", email="ada@example.com")
    bo = book.customer("C2", email="bo@example.com")
    offer = book.send(ada, "promo/offer", created_at=as_of, category="marketing")
    care = book.send(ada, created_at=as_of, category="care")
    bo_offer = book.send(bo, "promo/offer", created_at=as_of, category="marketing")
    # after the firing, before delivery: Ada unsubscribes from marketing (a List-Unsubscribe
    # click), Bo from everything
    book.event(ada, "unsubscribe", as_of + 60, payload={"category": "marketing"})
    book.event(bo, "unsubscribe", as_of + 60)

    summary = deliver(store, registry, settings, catalog, now=as_of + 120)

    assert summary.sent == 1
    assert book.row(care)["status"] == "sent"  # care is a separate category
    assert book.row(offer)["suppressed_reason"] == "unsubscribed from marketing messages"
    assert book.row(bo_offer)["suppressed_reason"] == "unsubscribed from email"


@pytest.mark.parametrize(
    ("consent", "category", "opt_in", "reason"),
    [
        ({"marketing": False}, "marketing", [], "no consent for marketing"),
        ({}, "marketing", ["marketing"], "no consent for marketing"),
        ({"marketing": True}, "marketing", ["marketing"], None),
        ({"email": False}, "service", [], "no consent for email"),
        ({"email": False}, "transactional", [], None),  # receipts go out regardless
        ({"marketing": False}, "care", [], None),
    ],
)
def test_consent_per_channel_and_category(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
    consent: dict[str, bool],
    category: str,
    opt_in: list[str],
    reason: str | None,
) -> None:
    settings.delivery.consent.opt_in = opt_in  # type: ignore[assignment]
    row = book.send(
        book.customer("C1", email="ada@example.com", consent=consent),
        created_at=as_of,
        category=category,
    )
    deliver(store, registry, settings, catalog, now=as_of)
    state = book.row(row)
    assert (state["status"], state["suppressed_reason"]) == (
        ("sent", None) if reason is None else ("suppressed", reason)
    )


def test_quiet_hours_defer_in_the_customers_own_zone(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
) -> None:
    settings.delivery.quiet_hours = {"file": QuietHours.model_validate("21:00-08:00")}
    # 22:30 in Tokyo is 13:30 in London: one customer sleeps, the other does not
    now = instant("2026-11-23T22:30", TOKYO)
    fired = now - 600
    tokyo = book.customer("C1", email="t@example.com", timezone="Asia/Tokyo")
    london = book.customer("C2", email="l@example.com", timezone="Europe/London")
    night = book.send(tokyo, created_at=fired)
    day = book.send(london, created_at=fired)

    first = deliver(store, registry, settings, catalog, now=now)

    assert (first.sent, first.deferred) == (1, 1)
    assert book.row(day)["status"] == "sent"
    waiting = book.row(night)
    morning = instant("2026-11-24T08:00", TOKYO)  # the next day, across midnight
    assert (waiting["status"], waiting["next_attempt_at"], waiting["attempts"]) == (
        "pending",
        morning,
        0,
    )
    assert waiting["suppressed_reason"] == (
        "quiet hours 21:00-08:00 (Asia/Tokyo): deferred to 2026-11-24 08:00 +0900"
    )
    assert deliver(store, registry, settings, catalog, now=morning - 60).total == 0
    second = deliver(store, registry, settings, catalog, now=morning)
    assert second.sent == 1
    assert book.row(night)["suppressed_reason"] is None


def test_quiet_hours_past_the_deadline_expire(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
) -> None:
    settings.delivery.quiet_hours = {"file": QuietHours.model_validate("21:00-08:00")}
    settings.delivery.deadline = 6 * 3600
    now = instant("2026-11-23T22:30", LONDON)
    row = book.send(
        book.customer("C1", email="l@example.com", timezone="Europe/London"), created_at=now - 3600
    )
    summary = deliver(store, registry, settings, catalog, now=now)
    assert summary.suppressed_total == 1
    assert book.row(row)["suppressed_reason"] == (
        "expired: quiet hours 21:00-08:00 last until 2026-11-24 08:00 +0000, past the delivery deadline"
    )


def test_frequency_caps_across_rules_priority_wins(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    settings.delivery.caps = [FrequencyCap(category="marketing", max=2, per=7 * DAY)]
    ada = book.customer("C1", email="ada@example.com")
    book.send(
        ada, "promo/offer", created_at=as_of - 3 * DAY, category="marketing", rule_id="newsletter"
    )
    assert deliver(store, registry, settings, catalog, now=as_of - 3 * DAY).sent == 1

    low = book.send(
        ada, "promo/offer", created_at=as_of, category="marketing", rule_id="winback", priority=80
    )
    high = book.send(
        ada, "promo/offer", created_at=as_of, category="marketing", rule_id="vip-offer", priority=10
    )
    service = book.send(
        ada, created_at=as_of, category="service", rule_id="complaint-followup", priority=90
    )

    summary = deliver(store, registry, settings, catalog, now=as_of)

    assert summary.sent == 2
    assert book.row(high)["status"] == "sent"  # more important: the last marketing slot
    assert (
        book.row(low)["suppressed_reason"] == "frequency cap: at most 2 marketing messages per 1w"
    )
    assert book.row(service)["status"] == "sent"  # service messages are never capped

    # a week after the first message, a slot is free again
    later = book.send(
        ada, "promo/offer", created_at=as_of + 5 * DAY, category="marketing", rule_id="winback"
    )
    assert deliver(store, registry, settings, catalog, now=as_of + 5 * DAY).sent == 1
    assert book.row(later)["status"] == "sent"


def test_blast_radius_holds_a_rule_until_released(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    settings.delivery.blast_radius = BlastRadius(max_customers=3)
    people = [book.customer(f"C{i}", email=f"c{i}@example.com") for i in range(5)]
    wide = [book.send(p, created_at=as_of, rule_id="oops-everyone") for p in people]
    narrow = book.send(people[0], created_at=as_of, rule_id="birthday-greeting")

    held = deliver(store, registry, settings, catalog, now=as_of)

    assert (held.sent, held.held) == (1, 5)
    assert book.row(narrow)["status"] == "sent"
    reason = "held: rule would message 5 customers in one cycle (limit 3)"
    assert {book.row(r)["suppressed_reason"] for r in wide} == {reason}
    assert deliver(store, registry, settings, catalog, now=as_of + 3600).total == 0  # still held
    with store.begin() as conn:
        (firing,) = held_firings(conn)
        assert (firing.rule_id, firing.customers, firing.pending) == ("oops-everyone", 5, 5)
        assert release(conn, "oops-everyone", as_of + 3600) == (1, 5)

    released = deliver(store, registry, settings, catalog, now=as_of + 3600)

    assert released.sent == 5
    assert all(book.row(r)["status"] == "sent" for r in wide)


def test_blast_radius_by_share_and_cancel(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    settings.delivery.blast_radius = BlastRadius(max_customers=None, max_share=0.5)
    people = [book.customer(f"C{i}", email=f"c{i}@example.com") for i in range(4)]
    rows = [book.send(p, created_at=as_of, rule_id="most") for p in people[:3]]
    summary = deliver(store, registry, settings, catalog, now=as_of)
    assert summary.held == 3
    assert book.row(rows[0])["suppressed_reason"] == (
        "held: rule would message 3 of 4 customers (75%, limit 50%)"
    )
    with store.begin() as conn:
        assert release(conn, "most", as_of, cancel=True) == (1, 3)
    assert {book.row(r)["status"] for r in rows} == {"suppressed"}
    assert deliver(store, registry, settings, catalog, now=as_of).total == 0


def test_invalid_and_missing_addresses(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    bad = book.send(book.customer("C1", email="lin..xiao@example.com"), created_at=as_of)
    none = book.send(book.customer("C2"), created_at=as_of)
    fine = book.send(book.customer("C3", email="王小明@例子.中国"), created_at=as_of)
    deliver(store, registry, settings, catalog, now=as_of)
    assert book.row(bad)["suppressed_reason"] == (
        "invalid email address: An email address cannot have two periods in a row."
    )
    assert book.row(none)["suppressed_reason"] == "no email address"
    assert book.row(fine)["status"] == "sent"


def test_stale_messages_expire(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    book: Book,
    as_of: int,
) -> None:
    row = book.send(book.customer("C1", email="ada@example.com"), created_at=as_of)
    deliver(store, registry, settings, catalog, now=as_of + 3 * DAY)
    assert book.row(row)["suppressed_reason"] == "expired: not sent within 2d of the firing"
