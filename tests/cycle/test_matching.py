"""All due rules matched in one pass: each rule's customers and its count agree with its
own condition, across mask words."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from core.app import App
from core.config import Settings
from core.features import materialize
from core.matching import BITS_PER_WORD, RuleMatches
from core.store import Store
from core.vocabulary import FeatureContext
from tests.cycle.conftest import add_customer, add_event, at, write_rules

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
