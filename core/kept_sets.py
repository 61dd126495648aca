"""Feature sets kept between cycles: only customers whose rows changed are recomputed.

A set that declares :class:`core.vocabulary.Keeping` has its rows kept in the store, in
a table ``kept_<set>`` per set, with a row in ``kept_sets`` saying which instant they
are of and the highest event id they include (the watermark). A cycle at a later
instant then

1. collects the *dirty* customers into a TEMP table, with one indexed query per
   reason: an event of the set's types with a higher id than the watermark (imported
   since), or whose instant fell in ``(then, now]`` (it became due), or crossed the edge
   of one of the set's windows (``(then - N days, now - N days]``);
2. deletes their kept rows and inserts their rows computed as of now (the set's own
   SELECT, restricted to them inside, where the events index serves each customer);
3. reads every row back with each aging feature counted to now from the instant kept
   in its place (``days_between(now, instant)``, the very expression the sets use, so the
   values are bit for bit those of a full computation).

A kept set is rebuilt from a full computation when it has no kept rows yet, when its
definition changed (the fingerprint covers its features, its ``Keeping`` and its
module's source), when the cycle's instant lies before the kept one (a backtest), or
when more than half the customers are dirty. A few customers' features
(``feature_rows``) and a dry run's (``ctx.read_only``: it must neither wait for nor
hold the write lock a running cycle needs) are computed afresh. Everything happens in
the cycle's transaction: a cycle that fails leaves the kept rows as they were.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    cast,
    func,
    insert,
    literal,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.builtin.features import DAY, days_between
from core.feature_sql import SQL_TYPES, set_subquery
from core.store.cycle_lock import wait_for_cycles
from core.store.tables import Customer, Event, KeptSet, table_of
from core.store.watermark import cycle_watermark
from core.temp_tables import recreate, temp_table
from core.vocabulary import FeatureContext, FeatureSet, Keeping

KEPT_METADATA = MetaData()
# In ``FeatureContext.cycle_state``: each kept set's recomputed customers (None: rebuilt).
KEPT_KEY = "kept_sets"
BASE_KEY = "kept_sets.customers"  # the store's customer count, once per cycle
events = table_of(Event)
customers = table_of(Customer)
kept_sets = table_of(KeptSet)


def may_keep(ctx: FeatureContext) -> bool:
    """Whether this computation keeps rows: the whole base, and allowed to write."""
    return ctx.customer_ids is None and not ctx.read_only


def keeping_of(fset: FeatureSet) -> Keeping | None:
    """The set's ``Keeping``, if it may be kept (never with ``needs`` or ``population``)."""
    keeping = getattr(fset, "keeping", None)
    if getattr(fset, "needs", None) or getattr(fset, "population", False):
        return None
    return keeping if isinstance(keeping, Keeping) else None


def kept_table(fset: FeatureSet, keeping: Keeping) -> Table:
    """The stored table of the set's rows: an aging feature holds its instant."""
    name = f"kept_{fset.name}"
    if name in KEPT_METADATA.tables:
        KEPT_METADATA.remove(KEPT_METADATA.tables[name])
    columns: list[Column[Any]] = [Column("customer_id", Integer, primary_key=True)]
    for feature in fset.features:
        kind = BigInteger if feature.name in keeping.aging else SQL_TYPES[feature.type]
        columns.append(Column(feature.name, kind))
    return Table(name, KEPT_METADATA, *columns)


def fingerprint(fset: FeatureSet, keeping: Keeping, variant: str = "") -> str:
    """Changes when the set's definition may have: its features, its promise, its code
    (and ``variant``, what else its rows depend on)."""
    described = {
        "set": fset.name,
        "features": [(f.name, str(f.type)) for f in fset.features],
        "keeping": asdict(keeping),
        "source": source_digest(type(fset)),
        "variant": variant,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


@functools.cache
def source_digest(code: Any) -> str:
    """Digest of the source of ``code``'s module (a class's, or a module itself), read
    once per process, not every cycle: what kept rows were computed by."""
    try:
        source = inspect.getsource(inspect.getmodule(code) or code)
    except (OSError, TypeError):
        source = getattr(code, "__qualname__", repr(code))
    return hashlib.sha256(source.encode()).hexdigest()


def dirty_table() -> Table:
    return temp_table("patron_dirty", Column("customer_id", Integer, primary_key=True))


@dataclass
class KeptSetRun:
    """One kept set in one feature computation."""

    fset: FeatureSet
    keeping: Keeping
    table: Table
    fingerprint: str
    as_of: int
    watermark: int
    dirty: int | None = None  # customers recomputed (None: rebuilt from a full computation)

    @property
    def columns(self) -> list[str]:
        return ["customer_id", *(f.name for f in self.fset.features)]

    def read(self) -> Any:
        """The set's rows as of the instant, from the kept table."""
        t = self.table
        now = literal(self.as_of)
        columns = [t.c.customer_id] + [
            days_between(now, t.c[f.name]).label(f.name)
            if f.name in self.keeping.aging
            else t.c[f.name]
            for f in self.fset.features
        ]
        return select(*columns).subquery(f"fs_{self.fset.name}")

    def _rows_to_keep(self, query: Any) -> Any:
        """``query``'s rows (the set's columns) with each aging feature as its instant."""
        sub = query.subquery("computed")
        now = literal(self.as_of)
        columns = [sub.c.customer_id] + [
            cast(func.round(now - sub.c[f.name] * literal(float(DAY))), BigInteger).label(f.name)
            if f.name in self.keeping.aging
            else sub.c[f.name]
            for f in self.fset.features
        ]
        return select(*columns)

    def _insert(self, conn: Connection, query: Any) -> None:
        conn.execute(insert(self.table).from_select(self.columns, self._rows_to_keep(query)))

    def _record(self, conn: Connection) -> None:
        record_state(conn, self.fset.name, self.fingerprint, self.as_of, self.watermark)

    def keep_all(self, conn: Connection, rows: Any) -> None:
        """Replace the kept rows with ``rows`` (a table or subquery of the set's full rows
        as of the instant)."""
        prefix = "main." if conn.dialect.name == "sqlite" else ""
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {prefix}{self.table.name}")
        self.table.create(conn)
        self._insert(conn, select(*(rows.c[n] for n in self.columns)))
        self._record(conn)

    def bring_up_to_date(
        self, conn: Connection, ctx: FeatureContext, since: int, mark: int
    ) -> bool:
        """Recompute the dirty customers (events since the kept instant ``since`` and
        watermark ``mark``); False, with nothing changed, when a rebuild is cheaper."""
        dirty = dirty_table()
        recreate(conn, dirty)
        conn.execute(insert(dirty).from_select(["customer_id"], self._dirty(since, mark)))
        count = conn.execute(select(func.count()).select_from(dirty)).scalar_one()
        if count * 2 > _base_size(conn, ctx):
            return False
        self.dirty = count
        if count:
            ids = select(dirty.c.customer_id)
            conn.execute(self.table.delete().where(self.table.c.customer_id.in_(ids)))
            ctx = dataclasses.replace(ctx, only=ids)
            self.fset.prepare(conn, ctx)
            query = self.fset.select(ctx)
            self._insert(conn, query.where(query.selected_columns.customer_id.in_(ids)))
        self._record(conn)
        return True

    def _dirty(self, since: int, mark: int) -> Any:
        return customers_with_events(
            self.keeping.event_types, since, mark, self.as_of, self.keeping.windows_days
        )


def _base_size(conn: Connection, ctx: FeatureContext) -> int:
    """How many customers the store holds: counted once per cycle, not per kept set."""
    if BASE_KEY not in ctx.cycle_state:
        ctx.cycle_state[BASE_KEY] = conn.execute(
            select(func.count()).select_from(customers)
        ).scalar_one()
    return int(ctx.cycle_state[BASE_KEY])


def customers_with_events(
    event_types: Sequence[str],
    since: int,
    mark: int,
    as_of: int,
    windows_days: Sequence[float] = (),
) -> Any:
    """SELECT (a UNION) of the customers whose events of ``event_types`` as of ``as_of``
    may differ from those as of ``since`` with watermark ``mark``: an event imported
    since (id above ``mark``), one that became due (instant in ``(since, as_of]``), or
    one that crossed the edge of a window of N days (``(since - N d, as_of - N d]``).
    One indexed query per reason."""
    of_types = events.c.type.in_(event_types)
    reasons = [
        select(events.c.customer_id).where(events.c.id > mark, of_types),
        select(events.c.customer_id).where(
            events.c.occurred_at > since, events.c.occurred_at <= as_of, of_types
        ),
    ]
    for days in windows_days:
        width = round(days * DAY)  # exact for a window given in seconds
        reasons.append(
            select(events.c.customer_id).where(
                events.c.occurred_at > since - width,
                events.c.occurred_at <= as_of - width,
                of_types,
            )
        )
    return union(*reasons)


def stored_state(conn: Connection, name: str) -> Any:
    """The ``kept_sets`` row of ``name`` (fingerprint, as_of, watermark), or None."""
    return conn.execute(select(kept_sets).where(kept_sets.c.name == name)).first()


def record_state(conn: Connection, name: str, fingerprint: str, as_of: int, mark: int) -> None:
    """Record that what is kept under ``name`` now stands at ``as_of`` and ``mark``."""
    upsert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(kept_sets)
    values = {"fingerprint": fingerprint, "as_of": as_of, "watermark": mark}
    conn.execute(
        upsert.values(name=name, **values).on_conflict_do_update(
            index_elements=["name"], set_=values
        )
    )


def kept_states(conn: Connection) -> list[Any]:
    """Every ``kept_sets`` row (name, fingerprint, as_of, watermark), by name."""
    return list(conn.execute(select(kept_sets).order_by(kept_sets.c.name)))


def forget_states(conn: Connection, names: Sequence[str] = ()) -> list[str]:
    """Delete the ``kept_sets`` rows of ``names`` (all when empty): the next cycle then
    computes what they kept in full. Returns the names deleted. On PostgreSQL it first
    waits for a running cycle, which would otherwise record its state again after."""
    wait_for_cycles(conn)
    query = select(kept_sets.c.name)
    if names:
        query = query.where(kept_sets.c.name.in_(list(names)))
    found = list(conn.execute(query).scalars())
    conn.execute(kept_sets.delete().where(kept_sets.c.name.in_(found)))
    return sorted(found)


def _up_to_date(
    conn: Connection,
    fset: FeatureSet,
    keeping: Keeping,
    ctx: FeatureContext,
    mark: int,
    variant: str = "",
) -> tuple[KeptSetRun, bool]:
    """The set's run at ``ctx.as_of`` (watermark ``mark``), and whether its kept rows
    are now up to date; if not, compute the set in full and ``keep_all``."""
    run = KeptSetRun(
        fset,
        keeping,
        kept_table(fset, keeping),
        fingerprint(fset, keeping, variant),
        ctx.as_of,
        mark,
    )
    state = stored_state(conn, fset.name)
    usable = (
        state is not None
        and state.fingerprint == run.fingerprint
        and state.as_of <= ctx.as_of
        and run.bring_up_to_date(conn, ctx, state.as_of, state.watermark)
    )
    ctx.cycle_state.setdefault(KEPT_KEY, {})[fset.name] = run.dirty
    return run, usable


def kept_runs(
    conn: Connection, sets: list[FeatureSet], ctx: FeatureContext
) -> tuple[dict[str, KeptSetRun], list[str]]:
    """The kept sets among ``sets`` for a whole-base computation at ``ctx.as_of``.

    Sets whose kept rows could be brought up to date are (their ``dirty`` is set); the
    names of the others are returned too: compute them in full, then ``keep_all``.
    """
    keepable = [(fset, keeping) for fset in sets if (keeping := keeping_of(fset)) is not None]
    if not keepable or not may_keep(ctx):
        return {}, []
    mark = cycle_watermark(conn, ctx.cycle_state)
    runs: dict[str, KeptSetRun] = {}
    rebuild: list[str] = []
    for fset, keeping in keepable:
        runs[fset.name], usable = _up_to_date(conn, fset, keeping, ctx, mark)
        if not usable:
            rebuild.append(fset.name)
    return runs, rebuild


def kept_rows(conn: Connection, fset: FeatureSet, ctx: FeatureContext, variant: str = "") -> Any:
    """The rows of ``fset`` (which must declare ``keeping``) as of ``ctx.as_of``, from its
    kept table brought up to date on ``conn``, or rebuilt there in full: for a plugin's
    own per-customer aggregates that are not features (churn's purchase days).
    ``variant`` names what else the rows depend on (a time zone's offset); a new one
    rebuilds. A few customers (``ctx.customer_ids``) and a computation that may not
    write (``ctx.read_only``) get the set's SELECT itself."""
    keeping = keeping_of(fset)
    if keeping is None:
        raise ValueError(f"feature set '{fset.name}' does not declare keeping")
    if not may_keep(ctx):
        fset.prepare(conn, ctx)
        return set_subquery(fset, ctx, ctx.customer_ids)
    run, usable = _up_to_date(
        conn, fset, keeping, ctx, cycle_watermark(conn, ctx.cycle_state), variant
    )
    if not usable:
        fset.prepare(conn, ctx)
        run.keep_all(conn, fset.select(ctx).subquery())
    return run.read()


__all__ = [
    "KEPT_KEY",
    "KeptSetRun",
    "customers_with_events",
    "dirty_table",
    "fingerprint",
    "forget_states",
    "keeping_of",
    "kept_rows",
    "kept_runs",
    "kept_states",
    "kept_table",
    "may_keep",
    "record_state",
    "source_digest",
    "stored_state",
]
