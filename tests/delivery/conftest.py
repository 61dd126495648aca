"""Fixtures for delivery tests: customers, events and ledger rows written with SQLAlchemy Core."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from core.config import Settings
from core.registry import Registry
from core.store import Customer, Event, LedgerEntry, LedgerStatus, Store
from core.templates import TemplateCatalog

customers = Customer.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]
ledger = LedgerEntry.__table__  # type: ignore[attr-defined]

HELLO_EN = """\
{% set who = customer.name or "there" %}
{% block subject %}Hello {{ who }}{% endblock %}
{% block body %}
Hi {{ who }}, you spent {{ spend_365d|money }} this year ({{ purchase_count }} orders).
Rule {{ rule.id }} on {{ today|date("%d %b %Y") }}.
{% endblock %}
"""
HELLO_ZH = """\
{% set who = customer.name or "顾客" %}
{% block subject %}{{ who }}，您好{% endblock %}
{% block body %}
{{ who }}，您今年共消费 {{ spend_365d|money }}（{{ purchase_count }} 笔订单）。
{% endblock %}
"""
OFFER_EN = """\
{% block subject %}A gift for you, {{ customer.name }}{% endblock %}
{% block body %}
Hello {{ customer.name }}, here is 10% off your next order.
{% endblock %}
{% block html %}
<p>Hello <b>{{ customer.name }}</b>, here is 10% off your next order.</p>
{% endblock %}
"""
BROKEN = """\
{% block subject %}Oops{% endblock %}
{% block body %}
Dear {{ customer.nmae }}
{% endblock %}
"""


@dataclass
class Book:
    """Writes the rows a cycle and an import would have written."""

    store: Store
    counter: itertools.count[int]

    def customer(self, external_id: str, **fields: Any) -> int:
        values = {"external_id": external_id, "consent": {}, "attributes": {}, **fields}
        with self.store.begin() as conn:
            return int(
                conn.execute(
                    insert(customers).values(**values).returning(customers.c.id)
                ).scalar_one()
            )

    def event(self, customer_id: int, kind: str, occurred_at: int, **fields: Any) -> None:
        values = {
            "customer_id": customer_id,
            "type": kind,
            "occurred_at": occurred_at,
            "source_key": f"test-{next(self.counter)}",
            **fields,
        }
        with self.store.begin() as conn:
            conn.execute(insert(events).values(**values))

    def send(
        self,
        customer_id: int,
        template: str = "care/hello",
        *,
        created_at: int,
        channel: str = "file",
        rule_id: str = "birthday-greeting",
        priority: int = 50,
        **fields: Any,
    ) -> int:
        n = next(self.counter)
        values = {
            "idempotency_key": f"{rule_id}:{customer_id}:2026:{n}",
            "rule_id": rule_id,
            "customer_id": customer_id,
            "period": "2026",
            "action": "send",
            "category": "care",
            "priority": priority,
            "status": LedgerStatus.PENDING.value,
            "created_at": created_at,
            "args": {"channel": channel, "template": template},
            **fields,
        }
        with self.store.begin() as conn:
            return int(
                conn.execute(insert(ledger).values(**values).returning(ledger.c.id)).scalar_one()
            )

    def row(self, ledger_id: int) -> dict[str, Any]:
        with self.store.begin() as conn:
            return dict(
                conn.execute(select(ledger).where(ledger.c.id == ledger_id)).mappings().one()
            )


@pytest.fixture
def book(store: Store) -> Book:
    return Book(store, itertools.count(1))


@pytest.fixture
def templates(settings: Settings) -> Path:
    root = settings.template_dirs[0]
    for relative, text in {
        "care/hello.en.j2": HELLO_EN,
        "care/hello.zh-CN.j2": HELLO_ZH,
        "care/broken.en.j2": BROKEN,
        "promo/offer.en.j2": OFFER_EN,
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def catalog(settings: Settings, registry: Registry, templates: Path) -> TemplateCatalog:
    return TemplateCatalog.from_settings(settings, registry)
