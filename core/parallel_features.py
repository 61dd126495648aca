"""The first feature stage on two connections at once (SQLite file stores).

SQLite runs one query on one core. A cycle's first feature stage is a dozen
independent aggregations over the events, so on a SQLite file store it is split
between the cycle's connection and a helper connection in a second thread (the
sqlite3 module releases the GIL while a query runs):

- before its transaction the cycle's connection attaches a scratch database file with
  an empty table per parallel-safe set (:func:`scratch_database`); the helper attaches
  the same file and fills the tables of the sets it computes, then commits;
- the helper only takes sets that declare ``parallel_safe = True`` (their ``prepare``
  writes nothing to the store and leaves nothing behind that other code reads: TEMP
  tables it fills for its own SELECT live on the helper's connection, where that
  SELECT runs); the cycle's connection computes every other set, then helps with the
  parallel-safe ones still waiting;
- each set's rows go into its own table keyed by customer, and the feature table is
  filled from ``customers`` LEFT JOIN those tables, with the same defaults as the
  single-query path;
- the cycle's connection must not read the scratch database before the helper
  committed (its snapshot would predate the rows; note that an unqualified
  ``DROP TABLE IF EXISTS`` of a missing table reads every attached database, so TEMP
  tables are dropped as ``temp.name``). It checks: a helper table whose row count it
  does not see in full is computed again on its own connection, with a warning.

Both connections read the same committed events: the cycle has not written anything
a feature reads when features are computed. The scratch file is removed when the
cycle ends; a dry run therefore still leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, MetaData, Select, Table, func, insert, select

from core.feature_sql import feature_columns, joined_onto_customers, set_subquery, stages
from core.registry import Registry
from core.store.engine import SQLITE_CACHE_SIZE
from core.temp_tables import recreate
from core.vocabulary import FeatureContext, FeatureSet

log = logging.getLogger(__name__)

SCHEMA = "patron_scratch"
SCRATCH_KEY = "patron_scratch_path"
HELPER_CACHE_KIB = 65536


def can_split(conn: Connection, ctx: FeatureContext) -> bool:
    """Whether this connection has a scratch database to share with a helper."""
    return conn.info.get(SCRATCH_KEY) is not None and ctx.store is not None


def _portable_sets(registry: Registry) -> list[FeatureSet]:
    """The first-stage sets a helper connection may compute."""
    first = stages(registry)[:1]
    return [
        registry.feature_sets[name]
        for name in (first[0] if first else [])
        if getattr(registry.feature_sets[name], "parallel_safe", False)
    ]


@contextmanager
def scratch_database(conn: Connection, registry: Registry) -> Iterator[None]:
    """Attach a scratch database to ``conn`` (a SQLite file store, outside any
    transaction) with an empty table for each parallel-safe set, for the duration of
    the block; then detach and remove it.

    The tables exist before the cycle's transaction begins: the connection's schema of
    the scratch database is read then and not again, and its first read of their rows
    comes after the helper committed them (WAL, so the two never block each other).
    """
    database = conn.engine.url.database
    portable = _portable_sets(registry)
    if conn.dialect.name != "sqlite" or not database or database == ":memory:" or not portable:
        yield
        return
    folder = tempfile.mkdtemp(prefix="patron-cycle-")
    path = os.path.join(folder, "features.db")
    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {SCHEMA}", (path,))
    try:
        conn.exec_driver_sql(f"PRAGMA {SCHEMA}.journal_mode=WAL")
        for fset in portable:
            _set_table(fset, SCHEMA).create(conn)
        conn.commit()
        conn.info[SCRATCH_KEY] = path
        yield
    finally:
        conn.info.pop(SCRATCH_KEY, None)
        conn.rollback()  # no-op after the cycle's own commit or rollback
        conn.exec_driver_sql(f"DETACH DATABASE {SCHEMA}")
        conn.commit()
        shutil.rmtree(folder, ignore_errors=True)


class _Queue:
    """Set names handed out once each, under a lock."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = list(names)
        self._lock = threading.Lock()

    def take(self) -> str | None:
        with self._lock:
            return self._names.pop(0) if self._names else None


def _set_table(fset: FeatureSet, schema: str | None) -> Table:
    columns = feature_columns(fset.features)
    if schema is None:
        return Table(f"patron_fs_{fset.name}", MetaData(), *columns, prefixes=["TEMPORARY"])
    return Table(f"fs_{fset.name}", MetaData(schema=schema), *columns)


def _compute(conn: Connection, fset: FeatureSet, ctx: FeatureContext, target: Table) -> int:
    """Fill ``target`` with the set's rows (a TEMP table is created; a scratch one exists);
    return how many."""
    fset.prepare(conn, ctx)
    sub = set_subquery(fset, ctx, None)
    if target.schema is None:
        recreate(conn, target)
    names = ["customer_id", *(f.name for f in fset.features)]
    statement = insert(target).from_select(names, select(*(sub.c[n] for n in names)))
    result = conn.execute(statement, execution_options={"preserve_rowcount": True})
    return int(result.rowcount)


def set_tables_joined(tables: dict[str, Any], registry: Registry) -> Select[Any]:
    """One row per customer: ``customers`` joined to each set's table, with defaults."""
    sets = registry.feature_sets
    return joined_onto_customers((table, sets[name].features) for name, table in tables.items())


def compute_into_table(conn: Connection, fset: FeatureSet, ctx: FeatureContext) -> Table:
    """The set's rows, for every customer, in a TEMP table of its own on ``conn``."""
    table = _set_table(fset, None)
    _compute(conn, fset, ctx, table)
    return table


def first_stage_split(
    conn: Connection,
    registry: Registry,
    ctx: FeatureContext,
    set_names: Sequence[str],
) -> dict[str, Table]:
    """Compute the stage's sets on ``conn`` and a helper connection; return the table
    holding each set's rows (keyed by customer), in ``set_names`` order."""
    sets = {name: registry.feature_sets[name] for name in set_names}
    portable = [n for n in set_names if getattr(sets[n], "parallel_safe", False)]
    queue = _Queue(portable)
    tables: dict[str, Table] = {}
    failures: list[BaseException] = []
    written: dict[str, int] = {}
    path = conn.info[SCRATCH_KEY]

    def helper() -> None:
        try:
            with ctx.store.engine.connect() as other:
                other.exec_driver_sql(f"ATTACH DATABASE ? AS {SCHEMA}", (path,))
                # A small page cache: the helper scans, and its cache adds to the process
                # on top of the cycle connection's.
                other.exec_driver_sql(f"PRAGMA cache_size=-{HELPER_CACHE_KIB}")
                other.commit()
                try:
                    while (name := queue.take()) is not None:
                        table = _set_table(sets[name], SCHEMA)
                        written[name] = _compute(other, sets[name], ctx, table)
                        tables[name] = table
                    other.commit()
                finally:
                    other.rollback()
                    other.exec_driver_sql(f"DETACH DATABASE {SCHEMA}")
                    other.exec_driver_sql(f"PRAGMA cache_size={SQLITE_CACHE_SIZE}")
                    other.exec_driver_sql("PRAGMA shrink_memory")
                    other.commit()
        except BaseException as exc:  # re-raised in the cycle's thread
            failures.append(exc)

    thread = threading.Thread(target=helper, name="patron-features", daemon=True)
    thread.start()
    try:
        for own in [n for n in set_names if n not in portable]:
            tables[own] = compute_into_table(conn, sets[own], ctx)
        while (waiting := queue.take()) is not None:
            tables[waiting] = compute_into_table(conn, sets[waiting], ctx)
    finally:
        thread.join()
    if failures:
        raise failures[0]
    for name, count in written.items():
        table = tables[name]
        seen = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if seen != count:
            # This connection read the scratch database before the helper committed (its
            # snapshot predates the rows): compute the set here instead, never use stale rows.
            log.warning(
                "features: set %s computed again on the cycle's connection (%s of %s rows "
                "visible from the helper)",
                name,
                seen,
                count,
            )
            tables[name] = compute_into_table(conn, sets[name], ctx)

    return {name: tables[name] for name in set_names}


__all__ = [
    "SCHEMA",
    "can_split",
    "compute_into_table",
    "first_stage_split",
    "scratch_database",
    "set_tables_joined",
]
