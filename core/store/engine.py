"""Opening the store and keeping its schema current."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import SQLModel

from core.errors import StoreError
from core.store import tables
from core.store.statistics import analyze_after_writes

SCHEMA_VERSION = 5
SQLITE_CACHE_SIZE = -262144  # KiB when negative: a 256 MiB page cache per connection
SQLITE_PAGE_SIZE = 16384  # bytes, for stores created from now on
meta = tables.table_of(tables.Meta)

# Upgrades from version N-1 to N, applied in order by ensure_schema(). Version 1 is the
# initial create_all; add (2, fn) here when a table changes, never edit a released step.
Migration = Callable[[Connection], None]


def _ledger_cycle_rule_index(conn: Connection) -> None:
    """2: the ledger's cycle index also keys rule and action (a cycle's firings of one
    action were found by scanning every row the cycle wrote)."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_ledger_cycle_rule ON ledger (cycle_id, rule_id, action_index)"
    )
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_ledger_cycle_id")


def _events_indexes_cover(conn: Connection) -> None:
    """3: the events' indexes hold the values aggregates read (amount, value; type and
    customer in the time index), so per-customer aggregates and questions by time
    across customers are answered from an index. Once, on a large store, this reads
    every event twice (about 40 s for ten million)."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_events_per_customer "
        "ON events (customer_id, type, occurred_at, amount, value)"
    )
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_events_customer_type_time")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_events_time_type "
        "ON events (occurred_at, type, customer_id, amount)"
    )
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_events_time")


def _no_ledger_cycle_index(conn: Connection) -> None:
    """4: no index of a cycle's firings. An action's effect finds the rows its insert
    wrote by a range of ids; the index cost every ledger row one more B-tree write
    (a cold cycle at 1M customers writes 2.5 million)."""
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_ledger_cycle_rule")


def _shared_action_args(conn: Connection) -> None:
    """5: ledger rows name the arguments they share (``action_args``, created with the
    other tables) instead of each carrying a copy. Rows written before keep theirs."""
    if "args_id" not in {c["name"] for c in inspect(conn).get_columns("ledger")}:
        conn.exec_driver_sql("ALTER TABLE ledger ADD COLUMN args_id INTEGER")


MIGRATIONS: dict[int, Migration] = {
    2: _ledger_cycle_rule_index,
    3: _events_indexes_cover,
    4: _no_ledger_cycle_index,
    5: _shared_action_args,
}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # A new store gets 16 KiB pages (an existing one keeps its own: the size is fixed
    # when the first table is written). A cycle reads and writes whole tables and
    # indexes; at 1M customers the cold cycle took 76 s instead of 83 s, the second 39 s
    # instead of 41.5 s, and the import rate did not change.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # TEMP tables (the cycle's feature table: a row per customer, a column per feature)
    # go to a temporary file behind the page cache, not into the process heap: at a
    # million customers in memory they alone took more than a GiB, and were no faster.
    cursor.execute("PRAGMA temp_store=FILE")
    cursor.execute(f"PRAGMA cache_size={SQLITE_CACHE_SIZE}")
    try:
        cursor.execute("SELECT ln(1), exp(0)")
    except sqlite3.OperationalError:  # an SQLite built without its math functions
        for name, fn in (("ln", _ln), ("exp", _exp)):
            dbapi_connection.create_function(name, 1, fn, deterministic=True)
    cursor.close()


def _ln(value: float | None) -> float | None:
    """SQLite's ``ln``: NULL outside its domain."""
    return math.log(value) if value is not None and value > 0 else None


def _exp(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite file store; None for any other store (PostgreSQL,
    an in-memory SQLite)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return database


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@dataclass
class Store:
    """An open store: the engine plus what the rest of patron needs to know about it."""

    engine: Engine
    url: str
    # Work started for the store that goes on after the call that started it: the
    # checkpoint after a cycle (core.store.checkpoint).
    background: list[threading.Thread] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def wait_for_background(self) -> None:
        """Return when the work started in the background has finished."""
        while self.background:
            self.background.pop(0).join()

    def dispose(self) -> None:
        self.wait_for_background()
        self.engine.dispose()


def open_store(url: str, *, create: bool = True, echo: bool = False) -> Store:
    """Open (and by default create or upgrade) the store at ``url``.

    Raises :class:`StoreError` naming the URL (password masked) and what to do when the
    store cannot be reached, the driver is missing, or the schema is newer than this
    version of patron.
    """
    try:
        engine = create_engine(url, echo=echo, future=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"{safe_url(url)}: not a usable database URL ({exc})") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # INSERT INTO t WITH ... SELECT, not WITH ... INSERT: the sqlite3 driver gives no
        # rowcount for a statement that does not begin with INSERT, and effects, stages
        # and the feature helper count what they wrote from it.
        engine.dialect.cte_follows_insert = True
    if engine.dialect.name == "postgresql":
        analyze_after_writes(engine)
    store = Store(engine=engine, url=url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        if create:
            ensure_schema(store)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(
            f"{safe_url(url)}: cannot open the store: {reason}. "
            "Check database_url in patron.yaml or PATRON_DATABASE_URL."
        ) from None
    return store


def schema_version(conn: Connection) -> int | None:
    try:
        row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    except SQLAlchemyError:
        return None
    return int(row[0]) if row else None


def ensure_schema(store: Store) -> int:
    """Create missing tables and apply pending migrations; return the schema version."""
    with store.begin() as conn:
        if store.is_postgres:
            # Two daemons starting together must not both create tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7263001)")
        SQLModel.metadata.create_all(conn)
        current = schema_version(conn)
        if current is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return SCHEMA_VERSION
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{safe_url(store.url)}: the store is at schema version {current}, newer than "
                f"this patron ({SCHEMA_VERSION}); upgrade patron before using it"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
        if current != SCHEMA_VERSION:
            conn.execute(
                meta.update()
                .where(meta.c.key == "schema_version")
                .values(value=str(SCHEMA_VERSION))
            )
        return SCHEMA_VERSION
