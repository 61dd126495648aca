"""pytest fixtures for patron and for plugin authors (loaded via the ``pytest11`` entry point).

Fixtures:

``settings``        patron Settings rooted in a temporary directory
``sqlite_store``    a fresh SQLite store in that directory
``postgres_store``  a fresh PostgreSQL schema on the server named by PATRON_TEST_POSTGRES_URL
                    (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); skipped when
                    the server is unreachable, except when ``CI`` or PATRON_REQUIRE_POSTGRES is set,
                    where an unreachable server fails the test
``store``           parametrized: the same test runs on SQLite and on PostgreSQL
``plugin_manager``  a fresh plugin manager with every installed plugin
``registry``        the vocabulary built from it
``as_of``           a fixed instant (2026-11-23 09:00 Asia/Shanghai) as epoch seconds
``smtp_server``     a real SMTP server on 127.0.0.1 (see :mod:`core.testing_smtp`)
``http_server``     a real HTTP server on 127.0.0.1 (see :mod:`core.testing_http`)
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
from sqlalchemy import create_engine, text

from core.config import Settings, load_settings
from core.plugins import make_plugin_manager
from core.registry import Registry, build_registry
from core.store import Store, open_store

pytest_plugins = ["core.testing_smtp", "core.testing_http"]  # smtp_server, http_server ...

POSTGRES_URL_ENV = "PATRON_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FIXED_AS_OF = int(dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC).timestamp())


def postgres_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("PATRON_REQUIRE_POSTGRES"))


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in tmp_path, with no patron.yaml and no environment overrides."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'patron.db'}",
        base_dir=tmp_path,
        rule_paths=[tmp_path / "rules"],
        template_paths=[tmp_path / "templates"],
        outbox_dir=tmp_path / "outbox",
    )


def _load_plugin_tables() -> None:
    """Import every installed plugin, so that the tables plugins define get created."""
    make_plugin_manager()


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[Store]:
    _load_plugin_tables()
    store = open_store(settings.resolved_database_url)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    """A store in a throw-away schema of the test PostgreSQL database."""
    base = postgres_url()
    admin = create_engine(base)
    schema = f"patron_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # server absent on a user's machine
        admin.dispose()
        if postgres_required():
            pytest.fail(f"PostgreSQL at {base} is required here but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {base} unreachable")
    sep = "&" if "?" in base else "?"
    _load_plugin_tables()
    store = open_store(f"{base}{sep}options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    result: Store = request.getfixturevalue(name)
    return result


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    return make_plugin_manager()


@pytest.fixture
def registry(plugin_manager: pluggy.PluginManager, settings: Settings) -> Registry:
    return build_registry(plugin_manager, settings)


@pytest.fixture
def as_of() -> int:
    return FIXED_AS_OF


__all__ = ["DEFAULT_POSTGRES_URL", "FIXED_AS_OF", "load_settings"]
