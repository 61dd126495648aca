"""All due rules matched in one pass: each rule's customers and its count agree with its
own condition, across mask words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, select

from core.app import App
from core.config import Settings
from core.features import materialize
from core.matching import BITS_PER_WORD, RuleMatches
from core.store import Store
from core.vocabulary import FeatureContext
from tests.cycle.conftest import add_customer, add_event, at, write_rules
from tests.query_plan import sqlite_plan

RULE = """
  - id: r{index}
    description: At least {least} purchases.
    schedule: "0 9 * * *"
    when: purchase_count >= {least}
    once_per: once
    category: care
    then:
      - send: {{channel: file, template: care/hello}}
"""


def test_counts_and_customers_of_rules_over_two_mask_words(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    purchases = {add_customer(store, f"c{n}"): n for n in range(6)}  # 0 to 5 purchases
    for customer_id, count in purchases.items():
        for day in range(count):
            add_event(store, customer_id, "purchase", f"2026-03-{day + 1:02d}T10:00:00", amount=1)
    # More rules than one mask word holds; r{i} asks for i % 7 purchases (6 matches nobody).
    total = BITS_PER_WORD + 8
    write_rules(
        settings,
        "rules:\n" + "".join(RULE.format(index=i, least=i % 7) for i in range(total)),
    )
    app = make_app()
    rules = app.load_rules().enabled()
    assert len(rules) == total
    ctx = FeatureContext(as_of=at("2026-04-01T00:00:00"), settings=settings, store=store)
    with store.begin() as conn:
        features = materialize(conn, app.registry, ctx)
        matching = RuleMatches(conn, features, rules)
        for rule in rules:
            least = int(rule.id[1:]) % 7
            expected = sorted(c for c, n in purchases.items() if n >= least)
            found = sorted(conn.execute(matching.customers(rule)).scalars())
            assert found == expected, rule.id
            assert matching.count(rule) == len(expected), rule.id
        counted = select(func.count()).select_from(matching.table)
        # A customer is stored once per word in which any rule matches them: 6 and 6.
        assert conn.execute(counted).scalar_one() == 2 * len(purchases)


def test_each_condition_is_evaluated_once_per_customer(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    # Folded into its outer query, the masks subquery's conditions ran twice per customer:
    # for ``mask != 0`` and for the value written. The plan must keep it a subquery.
    write_rules(settings, "rules:\n" + RULE.format(index=0, least=1))
    app = make_app()
    rules = app.load_rules().enabled()
    ctx = FeatureContext(as_of=at("2026-04-01T00:00:00"), settings=settings, store=store)
    plans: list[str] = []
    sqlite = store.dialect == "sqlite"

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("INSERT INTO patron_rule_masks"):
            query = statement[statement.index("SELECT") :]
            cursor.execute(f"EXPLAIN {'QUERY PLAN ' if sqlite else ''}{query}", params)
            plans.extend(str(row[3] if sqlite else row[0]) for row in cursor.fetchall())

    event.listen(store.engine, "before_cursor_execute", explain)
    try:
        with store.begin() as conn:
            RuleMatches(conn, materialize(conn, app.registry, ctx), rules)
    finally:
        event.remove(store.engine, "before_cursor_execute", explain)
    fenced = "CO-ROUTINE rule_masks" if sqlite else "Subquery Scan on rule_masks"
    assert any(fenced in line for line in plans), plans


def test_a_rule_reads_only_the_masks_that_hold_its_bit(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    # A rule matching a few customers read every customer's mask: the key leads with the
    # mask, and the count pass says which masks hold each rule's bit.
    ids = [add_customer(store, f"c{n}") for n in range(4)]  # c{n} buys n times
    for n, customer_id in enumerate(ids):
        for day in range(n):
            add_event(store, customer_id, "purchase", f"2026-03-{day + 1:02d}T10:00:00", amount=1)
    write_rules(settings, "rules:\n" + "".join(RULE.format(index=i, least=i) for i in range(4)))
    app = make_app()
    rules = app.load_rules().enabled()
    ctx = FeatureContext(as_of=at("2026-04-01T00:00:00"), settings=settings, store=store)
    with store.begin() as conn:
        matching = RuleMatches(conn, materialize(conn, app.registry, ctx), rules)
        rare = next(r for r in rules if r.id == "r3")
        assert matching.count(rare) == 1
        query = matching.customers(rare)
        assert list(conn.execute(query).scalars()) == [ids[3]]
        if store.dialect == "sqlite":
            details = " ".join(sqlite_plan(conn, query))
            assert "SEARCH patron_rule_masks USING PRIMARY KEY (word=? AND mask=?)" in details
            assert "SCAN" not in details
