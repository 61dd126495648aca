"""The shipped rules/tiering.yaml and templates/tiering/ in a cycle, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.app import build_app
from core.config import Settings
from core.cycle import run_cycle
from core.features import feature_rows
from core.plugins import make_plugin_manager
from core.store import Customer, LedgerEntry, Store
from core.store.tables import table_of
from core.templates import build_context
from core.vocabulary import FeatureContext
from plugins.tiering.tables import coupons, points
from tests.cycle.conftest import add_customer, add_event, at
from tests.plugins.tiering.conftest import OTHER_PLUGINS, rows

REPO = Path(__file__).resolve().parents[3]
ledger = table_of(LedgerEntry)
customers = table_of(Customer)


@pytest.fixture
def shipped(store: Store, tmp_path: Path) -> tuple[Settings, object]:
    settings = Settings(
        base_dir=tmp_path,
        rule_paths=[REPO / "rules" / "tiering.yaml"],
        template_paths=[REPO / "templates"],
        outbox_dir=tmp_path / "outbox",
    )
    app = build_app(settings=settings, pm=make_plugin_manager(block=OTHER_PLUGINS))
    app._store = store
    return settings, app


def test_member_day_with_the_shipped_rules(store: Store, shipped: tuple[Settings, object]) -> None:
    settings, app = shipped
    joined = at("2025-01-01T00:00:00")
    big = add_customer(store, "big", name="Chen", locale="en", joined_at=joined)
    regular = add_customer(store, "regular", name="李雷", locale="zh-CN", joined_at=joined)
    fresh = add_customer(store, "fresh", joined_at=at("2026-12-05T00:00:00"))
    for n in range(6):
        add_event(store, big, "purchase", f"2026-{n + 6:02d}-10T00:00:00", amount=1_000_000)
    add_event(store, regular, "purchase", "2026-05-01T00:00:00", amount=30_000)
    add_event(store, regular, "purchase", "2026-12-02T00:00:00", amount=12_345)
    member_day = at("2026-12-08T09:00:00+08:00")
    rules = app.load_rules()  # type: ignore[attr-defined]
    summary = run_cycle(store, app.registry, settings, rules, member_day, force=True)  # type: ignore[attr-defined]
    assert summary.skipped is None
    ctx = FeatureContext(member_day, settings, store)
    with store.begin() as conn:
        found = feature_rows(conn, app.registry, ctx, [big, regular, fresh])  # type: ignore[attr-defined]
        fired = {
            (rule, cid)
            for rule, cid in conn.execute(select(ledger.c.rule_id, ledger.c.customer_id))
        }
    assert [found[c]["tier"] for c in (big, regular, fresh)] == ["vip", "general", "new"]
    assert ("vip-assign-manager", big) in fired and ("welcome-new", fresh) in fired
    assert {cid for rule, cid in fired if rule == "member-day-offer"} == {big, regular}
    # one point per ¥1 of the last 30 days' purchases, double for the VIP (its June–November
    # purchases are older than 30 days except the one of 10 November)
    assert sorted(rows(store, points, "customer_id", "points")) == sorted(
        [(big, 2 * 10_000), (regular, 123)]
    )
    codes = dict(rows(store, coupons, "customer_id", "code"))
    assert codes[big].startswith("MD") and found[big]["coupon_code"] == codes[big]

    with store.begin() as conn:
        person = dict(conn.execute(select(customers).where(customers.c.id == big)).mappings().one())
    context = build_context(
        person, found[big], {"id": "member-day-offer"}, member_day, settings.zone, "CNY"
    )
    message = app.catalog.render("tiering/member_day", "en", context)  # type: ignore[attr-defined]
    assert message.subject == "Member day, Chen: 10% off for you"
    assert codes[big] in message.body and "20000 points" in message.body
