"""A working directory for daemon tests: patron.yaml, a rule, a template, customers."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert

from core.app import App, build_app
from core.config import Settings, load_settings
from core.store import Customer, Store
from core.store.tables import table_of

RULES = """\
rules:
  - id: hello
    description: Say hello to everyone with an e-mail address.
    schedule: "every 1d"
    when: has_email
    once_per: once
    category: care
    then:
      - send: {channel: email, template: care/hello}
"""
HELLO = """\
{% block subject %}Hello {{ customer.name }}{% endblock %}
{% block body %}Hi {{ customer.name }}, you have {{ purchase_count }} orders.{% endblock %}
"""


def write_workdir(root: Path, email: dict[str, Any], **extra: Any) -> Path:
    """patron.yaml (SQLite store in ``root``), rules/hello.yaml and templates/care/hello.en.j2."""
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "hello.yaml").write_text(RULES, encoding="utf-8")
    template = root / "templates" / "care" / "hello.en.j2"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.write_text(HELLO, encoding="utf-8")
    config: dict[str, Any] = {
        "database_url": "sqlite:///patron.db",
        "default_locale": "en",
        "channels": {"email": email},
        "delivery": {"poll_interval": 1},
        "daemon": {"watch_interval": 1, "shutdown_grace": 20},
    }
    for key, value in extra.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    path = root / "patron.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def add_customers(store: Store, count: int) -> None:
    rows = [
        {
            "external_id": f"C{i:03d}",
            "name": f"Customer {i}",
            "email": f"c{i}@example.com",
            "locale": "en",
            "consent": {},
            "attributes": {},
        }
        for i in range(count)
    ]
    with store.begin() as conn:
        conn.execute(insert(table_of(Customer)), rows)


def app_on(store: Store, config: Path, **updates: Any) -> App:
    """An App reading ``config`` but using the test's store (SQLite or PostgreSQL)."""
    settings: Settings = load_settings(config)
    if updates:
        settings = settings.model_copy(update=updates)
    app = build_app(settings=settings)
    app._store = store
    return app


async def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


def rules_text(body: str) -> str:
    return textwrap.dedent(body)
