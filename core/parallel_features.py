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
- the helper starts as soon as the cycle's transaction has begun
  (:class:`FirstStageSplit`), on the sets nobody keeps: while it computes them, the
  cycle's connection runs the stages that come before the features (churn's model
  fit) and brings the kept sets up to date. Kept sets that must be rebuilt join the
  helper's queue when that is known;
- each set's rows go into its own table keyed by customer, and the feature table is
  filled from ``customers`` LEFT JOIN those tables, with the same defaults as the
  single-query path;
- the cycle's connection must not read the scratch database before the helper
  committed (its snapshot would predate the rows; note that an unqualified
  ``DROP TABLE IF EXISTS`` of a missing table reads every attached database, so TEMP
  tables are dropped as ``temp.name``). It checks: a helper table whose row count it
  does not see in full is computed again on its own connection, with a warning.

Both connections read the same committed events: a parallel-safe set reads nothing
the cycle writes before the features (the helper would not see it, uncommitted). The
scratch file is removed when the cycle ends; a dry run therefore still leaves nothing
behind.
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

from core.cycle_features import wanted_of
from core.feature_sql import feature_columns, joined_onto_customers, set_subquery, stages
from core.registry import Registry
from core.store.engine import SQLITE_CACHE_SIZE, sqlite_file
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
    portable = _portable_sets(registry)
    if sqlite_file(conn.engine) is None or not portable:
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
    """Set names handed out once each, under a lock. The helper waits for more until the
    queue is closed; the cycle's connection takes what is left without waiting."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = list(names)
        self._closed = False
        self._changed = threading.Condition()

    def put(self, names: Sequence[str]) -> None:
        with self._changed:
            self._names.extend(names)
            self._changed.notify_all()

    def close(self, *, drop: bool = False) -> None:
        """No more names will come (``drop``: and those still waiting are not wanted)."""
        with self._changed:
            self._closed = True
            if drop:
                self._names.clear()
            self._changed.notify_all()

    def take(self, *, wait: bool) -> str | None:
        with self._changed:
            while wait and not self._names and not self._closed:
                self._changed.wait()
            return self._names.pop(0) if self._names else None


def _set_table(fset: FeatureSet, schema: str | None) -> Table:
    columns = feature_columns(fset.features)
    if schema is None:
        return Table(f"patron_fs_{fset.name}", MetaData(), *columns, prefixes=["TEMPORARY"])
    return Table(f"fs_{fset.name}", MetaData(schema=schema), *columns)


def _compute(conn: Connection, fset: FeatureSet, ctx: FeatureContext, target: Table) -> int:
    """Fill ``target`` with the set's rows (a TEMP table is created; a scratch one exists),
    in the columns of the wanted features (the others stay NULL); return how many."""
    fset.prepare(conn, ctx)
    sub = set_subquery(fset, ctx, None)
    if target.schema is None:
        recreate(conn, target)
    else:  # a scratch table: empty, unless an earlier split of this connection filled it
        conn.execute(target.delete())
    # Only the wanted features: SQLite then leaves the others' expressions out of the
    # set's query (the care calendars: 5.8 s with all 18, 5.0 s with the 6 a cycle reads).
    names = ["customer_id", *(f.name for f in wanted_of(fset.features, ctx.wanted))]
    statement = insert(target).from_select(names, select(*(sub.c[n] for n in names)))
    result = conn.execute(statement, execution_options={"preserve_rowcount": True})
    return int(result.rowcount)


def set_tables_joined(
    tables: dict[str, Any], registry: Registry, wanted: frozenset[str] | None = None
) -> Select[Any]:
    """One row per customer, in id order: ``customers`` joined to each set's table for
    its (wanted) features, with defaults (the split path is SQLite's: see
    ``joined_onto_customers``)."""
    sets = registry.feature_sets
    parts = ((table, wanted_of(sets[name].features, wanted)) for name, table in tables.items())
    return joined_onto_customers(parts, in_id_order=True)


def compute_into_table(conn: Connection, fset: FeatureSet, ctx: FeatureContext) -> Table:
    """The set's rows, for every customer, in a TEMP table of its own on ``conn``."""
    table = _set_table(fset, None)
    _compute(conn, fset, ctx, table)
    return table


class FirstStageSplit:
    """The first stage's parallel-safe sets on a helper connection, started early.

    The helper starts with the sets nobody keeps (``early``), while the cycle's
    connection is still running the stages that come before the features and bringing
    kept sets up to date; :meth:`finish` adds the sets that turned out to need a full
    computation, computes the others on the cycle's connection, helps with the queue and
    returns every set's table.
    """

    def __init__(
        self, conn: Connection, registry: Registry, ctx: FeatureContext, early: Sequence[str]
    ) -> None:
        first = stages(registry)[:1]
        self._sets = {name: registry.feature_sets[name] for name in (first[0] if first else [])}
        self._conn, self._ctx = conn, ctx
        self._early = [n for n in early if self._portable(n)]
        self._queue = _Queue(self._early)
        self._tables: dict[str, Table] = {}
        self._written: dict[str, int] = {}
        self._failures: list[BaseException] = []
        self._path = conn.info[SCRATCH_KEY]
        self._thread = threading.Thread(target=self._helper, name="patron-features", daemon=True)
        self._thread.start()

    @property
    def helping(self) -> bool:
        """Whether the helper thread is still running."""
        return self._thread.is_alive()

    def _portable(self, name: str) -> bool:
        return bool(getattr(self._sets[name], "parallel_safe", False))

    def _helper(self) -> None:
        try:
            with self._ctx.store.engine.connect() as other:
                other.exec_driver_sql(f"ATTACH DATABASE ? AS {SCHEMA}", (self._path,))
                # A small page cache: the helper scans, and its cache adds to the process
                # on top of the cycle connection's.
                other.exec_driver_sql(f"PRAGMA cache_size=-{HELPER_CACHE_KIB}")
                other.commit()
                try:
                    while (name := self._queue.take(wait=True)) is not None:
                        table = _set_table(self._sets[name], SCHEMA)
                        self._written[name] = _compute(other, self._sets[name], self._ctx, table)
                        self._tables[name] = table
                    other.commit()
                finally:
                    other.rollback()
                    other.exec_driver_sql(f"DETACH DATABASE {SCHEMA}")
                    other.exec_driver_sql(f"PRAGMA cache_size={SQLITE_CACHE_SIZE}")
                    other.exec_driver_sql("PRAGMA shrink_memory")
                    other.commit()
        except BaseException as exc:  # re-raised in the cycle's thread
            self._failures.append(exc)

    def finish(self, set_names: Sequence[str]) -> dict[str, Table]:
        """Compute ``set_names`` (which include every early set) and return the table
        holding each set's rows (keyed by customer), in ``set_names`` order."""
        conn, ctx = self._conn, self._ctx
        missing = set(self._early) - set(set_names)
        if missing:
            raise ValueError(f"early sets not asked for: {sorted(missing)}")
        self._queue.put([n for n in set_names if self._portable(n) and n not in self._early])
        self._queue.close()
        try:
            for own in [n for n in set_names if not self._portable(n)]:
                self._tables[own] = compute_into_table(conn, self._sets[own], ctx)
            while (waiting := self._queue.take(wait=False)) is not None:
                self._tables[waiting] = compute_into_table(conn, self._sets[waiting], ctx)
        finally:
            self.stop()
        if self._failures:
            raise self._failures[0]
        for name, count in self._written.items():
            table = self._tables[name]
            seen = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if seen != count:
                # This connection read the scratch database before the helper committed
                # (its snapshot predates the rows): compute the set here instead, never
                # use stale rows.
                log.warning(
                    "features: set %s computed again on the cycle's connection (%s of %s "
                    "rows visible from the helper)",
                    name,
                    seen,
                    count,
                )
                self._tables[name] = compute_into_table(conn, self._sets[name], ctx)
        return {name: self._tables[name] for name in set_names}

    def stop(self) -> None:
        """Let the helper finish the set it is computing, drop the rest, and wait for it."""
        self._queue.close(drop=True)
        self._thread.join()


@contextmanager
def first_stage_split(
    conn: Connection, registry: Registry, ctx: FeatureContext, early: Sequence[str]
) -> Iterator[FirstStageSplit | None]:
    """A :class:`FirstStageSplit` started now on ``early`` (None where the connection has
    no scratch database); the helper is stopped when the block ends, whatever happens."""
    if not can_split(conn, ctx) or ctx.customer_ids is not None:
        yield None
        return
    split = FirstStageSplit(conn, registry, ctx, early)
    try:
        yield split
    finally:
        split.stop()


__all__ = [
    "SCHEMA",
    "FirstStageSplit",
    "can_split",
    "compute_into_table",
    "first_stage_split",
    "scratch_database",
    "set_tables_joined",
]
