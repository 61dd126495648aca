"""Helpers to build a small store, rule files and templates for cycle tests."""

from __future__ import annotations

import datetime as dt
import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from core.app import App, build_app
from core.config import Settings
from core.store import Customer, Event, Store

UTC = dt.UTC
_keys = itertools.count()


def at(text: str) -> int:
    """An ISO instant (UTC unless it carries an offset) as epoch seconds."""
    value = dt.datetime.fromisoformat(text)
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def add_customer(store: Store, external_id: str, **fields: Any) -> int:
    values = {"consent": {}, "attributes": {}, **fields, "external_id": external_id}
    with store.begin() as conn:
        conn.execute(insert(Customer.__table__), [values])  # type: ignore[attr-defined]
        row = conn.execute(
            select(Customer.__table__.c.id).where(Customer.__table__.c.external_id == external_id)  # type: ignore[attr-defined]
        ).scalar_one()
    return int(row)


def add_event(store: Store, customer_id: int, type_: str, when: str, **fields: Any) -> None:
    values = {"amount": None, "value": None, "ref": None, "payload": None, **fields}
    with store.begin() as conn:
        conn.execute(
            insert(Event.__table__),  # type: ignore[attr-defined]
            [
                {
                    **values,
                    "customer_id": customer_id,
                    "type": type_,
                    "occurred_at": at(when),
                    "source_key": f"t{next(_keys)}",
                }
            ],
        )


def write_rules(settings: Settings, text: str, name: str = "rules.yaml") -> None:
    folder = settings.rule_dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def write_config(settings: Settings, extra: str = "") -> Path:
    """A patron.yaml naming the settings' store, rules and templates (for CLI tests)."""
    config = settings.base_dir / "patron.yaml"
    config.write_text(
        f"database_url: {settings.database_url}\nrule_paths: [{settings.rule_dirs[0]}]\n"
        f"template_paths: [{settings.template_dirs[0]}]\n{extra}",
        encoding="utf-8",
    )
    return config


def write_template(settings: Settings, name: str, locale: str, subject: str, body: str) -> None:
    path = settings.template_dirs[0] / f"{name}.{locale}.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{{% block subject %}}{subject}{{% endblock %}}\n{{% block body %}}{body}{{% endblock %}}\n",
        encoding="utf-8",
    )


@pytest.fixture
def make_app(store: Store, settings: Settings) -> Callable[[], App]:
    """An App over the parametrized store (SQLite, PostgreSQL) and tmp rules/templates."""
    write_template(
        settings, "care/hello", "en", "Hello {{ customer.name }}", "Hi {{ customer.name }}!"
    )
    write_template(
        settings, "care/hello", "zh-CN", "你好 {{ customer.name }}", "{{ customer.name }}，您好！"
    )

    def build() -> App:
        app = build_app(settings=settings)
        app._store = store
        return app

    return build
