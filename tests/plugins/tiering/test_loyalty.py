"""Points and coupons: exactly once per firing, FIFO expiry, unique codes, redemption events."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, insert

from core.config import Settings
from core.cycle import CycleSummary
from core.store import Store
from plugins.tiering.loyalty import coupon_code
from plugins.tiering.tables import coupons, points
from tests.cycle.conftest import add_customer, add_event, at, write_rules
from tests.plugins.tiering.conftest import rows

Cycle = Callable[..., CycleSummary]
Features = Callable[..., dict[int, dict[str, Any]]]
DAY = 86400
TIERS = """
tiers:
  levels:
    - name: gold
      when: spend_total >= 1000
    - name: basic
"""


def rule(when: str, action: str, once_per: str = "once") -> str:
    return f"""
  - id: r{abs(hash((when, action))) % 10_000}
    schedule: "every 1h"
    when: {when}
    once_per: {once_per}
    category: loyalty
    then:
      - {action}
"""


def rules(settings: Settings, *entries: str) -> None:
    write_rules(settings, TIERS + "rules:\n" + "".join(entries))


def day(n: float) -> str:
    return (dt.datetime(2026, 3, 1) + dt.timedelta(days=n)).isoformat()


def test_a_grant_happens_once_per_firing_with_the_tier_multiplier(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    rules(
        settings,
        rule("purchase_count >= 1", "grant_points: {points: 15, tier_multiplier: {gold: 1.5}}"),
    )
    gold, basic = add_customer(store, "g"), add_customer(store, "b")
    add_event(store, gold, "purchase", day(0), amount=2000)
    add_event(store, basic, "purchase", day(0), amount=10)
    assert cycle(day(1)).new == 2
    assert cycle(day(1)).new == 0  # the same instant again
    assert cycle(day(2)).new == 0  # once_per: once
    assert rows(store, points, "customer_id", "points", "kind") == [
        (gold, 22, "grant"),
        (basic, 15, "grant"),
    ]
    found = features(day(2), [gold, basic])
    assert (found[gold]["points_balance"], found[basic]["points_last_granted"]) == (22, 15)


def test_points_per_amount_pay_each_purchase_once(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    rules(
        settings,
        rule("unrewarded_spend > 0", "grant_points: {points: 1, per_amount: 100}", once_per="1h"),
    )
    cid = add_customer(store, "p")
    add_event(store, cid, "purchase", day(0), amount=250)
    add_event(store, cid, "purchase", day(0.5), amount=180)
    assert features(day(1), [cid])[cid]["unrewarded_spend"] == 430
    assert cycle(day(1)).new == 1
    assert features(day(1), [cid])[cid]["unrewarded_spend"] == 0
    assert cycle(day(1.5)).new == 0  # nothing new to pay for: the rule does not match
    add_event(store, cid, "purchase", day(1.6), amount=300)
    add_event(store, cid, "purchase", day(0.2), amount=99)  # arrives late, still paid once
    assert cycle(day(2)).new == 1
    assert [r[0] for r in rows(store, points, "points", "created_at", order="created_at")] == [4, 3]
    assert features(day(2), [cid])[cid]["points_balance"] == 7


def test_referral_points_per_event(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    rules(
        settings,
        rule("unrewarded_referrals > 0", "grant_points: {points: 500, per_event: referral}", "1h"),
    )
    cid = add_customer(store, "ref")
    add_event(store, cid, "referral", day(0), ref="friend-1")
    add_event(store, cid, "referral", day(0.1), ref="friend-2")
    assert cycle(day(1)).new == 1
    assert features(day(1), [cid])[cid]["points_balance"] == 1000
    assert cycle(day(2)).new == 0


def grant(
    store: Store, customer: int, ledger_id: int, amount: int, at_day: float, expires_day: float
) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(points).values(
                ledger_id=ledger_id,
                customer_id=customer,
                kind="grant",
                points=amount,
                created_at=at(day(at_day)),
                expires_at=at(day(expires_day)),
                rule_id="test",
            )
        )


def test_points_expire_first_in_first_out(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    """100 points expire on day 10, 50 on day 15; 30 redeemed on day 3, 40 on day 12."""
    rules(settings, rule("points_overdue > 0", "expire_points: {}", once_per="day"))
    cid = add_customer(store, "x")
    grant(store, cid, 9001, 100, 0, 10)
    grant(store, cid, 9002, 50, 5, 15)
    add_event(store, cid, "points_redeemed", day(3), value=30)
    add_event(store, cid, "points_redeemed", day(12), value=40)

    def position(n: float) -> tuple[int, int, int]:
        row = features(day(n), [cid])[cid]
        return row["points_balance"], row["points_expiring_30d"], row["points_overdue"]

    assert position(4) == (70, 70, 0)  # 70 of the first grant left, all of it expiring soon
    assert position(6) == (120, 120, 0)
    assert position(11) == (50, 50, 70)  # the first grant's 70 expired; not written off yet
    assert position(13) == (10, 10, 70)  # the second redemption used the second grant
    assert position(16) == (0, 0, 80)
    cycle(day(11))
    cycle(day(11.5))  # once_per day
    cycle(day(16))
    assert rows(store, points, "points", "kind", order="created_at")[2:] == [
        (-70, "expire"),
        (-10, "expire"),
    ]
    assert position(16) == (0, 0, 0)
    assert position(40) == (0, 0, 0)


def test_expiring_points_ranks_only_the_firing_customers_points(
    store: Store, settings: Settings, cycle: Cycle
) -> None:
    # The write-off ranked the whole base's points and redemptions for every cycle that
    # fired it, to join the few firing customers to them (SQLite's plan is checked).
    rules(settings, rule("points_overdue > 0", "expire_points: {}", once_per="day"))
    ids = [add_customer(store, f"e{i}") for i in range(40)]
    for n, cid in enumerate(ids):
        grant(store, cid, 9000 + n, 100, 0, 10 if n < 2 else 50)  # two expire by day 11
        add_event(store, cid, "points_redeemed", day(3), value=5)
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if store.dialect == "sqlite" and statement.startswith("INSERT INTO loyalty_points"):
            query = statement[statement.index("SELECT") :].split(" ON CONFLICT")[0]
            cursor.execute(f"EXPLAIN QUERY PLAN {query}", params)
            plans.extend(str(row[3]) for row in cursor.fetchall())

    event.listen(store.engine, "before_cursor_execute", explain)
    try:
        assert cycle(day(11)).new == 2
    finally:
        event.remove(store.engine, "before_cursor_execute", explain)
    assert plans or store.dialect != "sqlite"
    assert not [step for step in plans if re.match(r"SCAN (loyalty_points|events)\b", step)]
    written = rows(store, points, "customer_id", "points", "kind", order="customer_id")
    assert [r for r in written if r[2] == "expire"] == [
        (ids[0], -95, "expire"),
        (ids[1], -95, "expire"),
    ]


def test_coupons_are_unique_once_per_firing_and_redeemable(
    store: Store, settings: Settings, cycle: Cycle, features: Features
) -> None:
    rules(
        settings,
        rule(
            "purchase_count >= 1", "issue_coupon: {percent: 10, valid_for: 7d, prefix: MD}", "month"
        ),
    )
    ids = [add_customer(store, f"c{i}") for i in range(5)]
    for cid in ids:
        add_event(store, cid, "purchase", day(0), amount=100)
    assert cycle(day(1)).new == 5
    assert cycle(day(2)).new == 0
    assert cycle(day(32)).new == 5  # a new month
    issued = rows(store, coupons, "ledger_id", "code", "customer_id", "percent")
    codes = [code for _, code, _, _ in issued]
    assert len(set(codes)) == 10
    assert all(code == coupon_code("MD", ledger_id) for ledger_id, code, _, _ in issued)
    first = features(day(3), ids)[ids[0]]
    mine = [code for _, code, cid, _ in issued if cid == ids[0]]
    assert (first["open_coupons"], first["coupon_code"], first["coupon_percent"]) == (
        1,
        mine[0],
        10,
    )
    assert round(first["coupon_days_left"]) == 5
    add_event(store, ids[0], "coupon_redeemed", day(4), ref=mine[0])
    assert features(day(4), ids)[ids[0]]["open_coupons"] == 0
    assert features(day(9), ids)[ids[1]]["open_coupons"] == 0  # expired after 7 days
    assert features(day(33), ids)[ids[0]]["open_coupons"] == 1
