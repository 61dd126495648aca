"""The per-customer feature table of one cycle.

Every feature set's SELECT is LEFT JOINed onto ``customers`` and the result is
written once into a TEMP table, ``patron_features``; each rule's condition then
runs as a WHERE clause over that table. Feature defaults (0 purchases, not NULL)
are applied here, so every evaluator sees the same values.

Sets that read other sets' features (``needs``) run in later stages: their SELECT may
read the features computed so far (``ctx.features``). On a SQLite file store a cycle
computes every set into a table of its own, the first stage on two connections at once
(:mod:`core.parallel_features`); a later stage reads the tables of the sets it needs,
joined, and the feature table is written once from all of them. Otherwise (PostgreSQL,
a few customers) the first stage is one INSERT ... SELECT and each later set fills its
columns with one ``UPDATE ... FROM``.

On either path a set that may be kept (:mod:`core.kept_sets`) is read from its kept
rows, brought up to date for the customers whose rows changed, instead of computed for
everyone; a few customers' features and a dry run's are computed afresh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    insert,
    select,
    update,
)

from core.cycle_features import planned_stages, wanted_of
from core.feature_sql import (
    feature_columns,
    joined_onto_customers,
    set_subquery,
    stages,
    with_default,
)
from core.kept_sets import keeping_of, kept_runs, may_keep
from core.parallel_features import (
    FirstStageSplit,
    can_split,
    compute_into_table,
    first_stage_split,
    set_tables_joined,
)
from core.registry import Registry
from core.store.tables import Customer, table_of
from core.temp_tables import TEMP_METADATA, recreate
from core.vocabulary import FeatureContext, FeatureSet, FeatureType

FEATURES_TABLE = "patron_features"
FEW_FEATURES_TABLE = "patron_features_few"


def normalize(kind: FeatureType, value: Any) -> Any:
    """One Python type per feature type, whatever the driver returned.

    Numbers become ``int`` when integral (so templates print ``5``, not ``5.0``) and
    ``float`` otherwise; booleans stored as 0/1 become ``bool``.
    """
    if value is None:
        return None
    if kind is FeatureType.BOOLEAN:
        return bool(value)
    if kind is FeatureType.NUMBER:
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return str(value)


def features_table(
    registry: Registry, name: str = FEATURES_TABLE, wanted: frozenset[str] | None = None
) -> Table:
    """The TEMP table definition for the registry's features, or the ``wanted`` ones
    (rebuilt if they changed)."""
    names = [n for n in registry.features.names() if wanted is None or n in wanted]
    existing = TEMP_METADATA.tables.get(name)
    if existing is not None and [c.name for c in existing.columns][1:] == names:
        return existing
    if existing is not None:
        TEMP_METADATA.remove(existing)
    columns = feature_columns(registry.features[feature_name] for feature_name in names)
    return Table(name, TEMP_METADATA, *columns, prefixes=["TEMPORARY"])


def _first_stage_select(
    conn: Connection,
    registry: Registry,
    ctx: FeatureContext,
    set_names: list[str],
    customer_ids: Collection[int] | None,
) -> Select[Any]:
    sets = [registry.feature_sets[name] for name in set_names]
    kept, rebuild = kept_runs(conn, sets, ctx) if customer_ids is None else ({}, [])
    parts = []
    for fset in sets:
        run = kept.get(fset.name)
        features = wanted_of(fset.features, ctx.wanted)
        if run is None or fset.name in rebuild:
            fset.prepare(conn, ctx)
            rows = set_subquery(fset, ctx, customer_ids)
            if run is None:
                parts.append((rows, features))
                continue
            run.keep_all(conn, rows)
        parts.append((run.read(), features))
    query = joined_onto_customers(parts, in_id_order=conn.dialect.name == "sqlite")
    if customer_ids is not None:
        query = query.where(table_of(Customer).c.id.in_(list(customer_ids)))
    return query


def _fill_later_stage(
    conn: Connection,
    table: Table,
    fset: FeatureSet,
    ctx: FeatureContext,
    customer_ids: Collection[int] | None,
) -> None:
    staged = dataclasses.replace(ctx, features=table)
    fset.prepare(conn, staged)
    sub = set_subquery(fset, staged, customer_ids)
    features = wanted_of(fset.features, ctx.wanted)
    values = {f.name: with_default(sub.c[f.name], f) for f in features}
    conn.execute(update(table).values(values).where(table.c.customer_id == sub.c.customer_id))
    for feature in features:
        if feature.default is not None:
            conn.execute(
                update(table)
                .where(table.c[feature.name].is_(None))
                .values({feature.name: feature.default})
            )


def unkept_first_stage(registry: Registry, ctx: FeatureContext) -> list[str]:
    """The first-stage sets computed in full whatever is kept: a helper connection may
    start on them before anything else is known (:class:`FirstStageSplit`)."""
    plan = planned_stages(registry, ctx.wanted)
    keeps = may_keep(ctx)
    return [
        name
        for name in (plan[0] if plan else [])
        if not keeps or keeping_of(registry.feature_sets[name]) is None
    ]


def _needed_so_far(registry: Registry, fset: FeatureSet, tables: dict[str, Any]) -> Any:
    """The features ``fset`` needs, one row per customer, from the tables of the sets that
    hold them: joining every earlier set's table for each later set cost more than the
    set's own computation (churn risk reads 9 features of 6 sets out of 15)."""
    needed = frozenset(getattr(fset, "needs", ()) or ())
    owners = {registry.feature_set_of[name] for name in needed}
    holding = {name: table for name, table in tables.items() if name in owners}
    return set_tables_joined(holding, registry, needed).subquery("features_so_far")


def _fill_from_set_tables(
    conn: Connection,
    registry: Registry,
    ctx: FeatureContext,
    plan: list[list[str]],
    table: Table,
    split: FirstStageSplit,
) -> None:
    """Every set into a table of its own, the first stage on two connections; a later
    stage reads the tables of the sets it needs, joined (``ctx.features``). The feature
    table is then written once, from all of them: an UPDATE per later set would rewrite every
    row of the wide table, as costly as writing it."""
    kept, rebuild = kept_runs(conn, [registry.feature_sets[n] for n in plan[0]], ctx)
    current = {name: run.read() for name, run in kept.items() if name not in rebuild}
    computed = split.finish([n for n in plan[0] if n not in current])
    for name in rebuild:
        kept[name].keep_all(conn, computed[name])
    tables: dict[str, Any] = {name: current.get(name, computed.get(name)) for name in plan[0]}
    in_pass = computed_in_pass(registry, plan)
    for stage in plan[1:]:
        for set_name in stage:
            if set_name in in_pass:
                continue
            fset = registry.feature_sets[set_name]
            staged = dataclasses.replace(ctx, features=_needed_so_far(registry, fset, tables))
            tables[set_name] = compute_into_table(conn, fset, staged)
    rows = _with_row_wise_sets(conn, registry, ctx, tables, in_pass)
    names = [c.name for c in rows.selected_columns]
    conn.execute(insert(table).from_select(names, rows))


def computed_in_pass(registry: Registry, plan: list[list[str]]) -> list[str]:
    """The later sets computed while the feature table is written (in stage order): the
    ``row_wise`` ones whose features no other set needs."""
    needed = {
        registry.feature_set_of[feature]
        for name in registry.feature_sets.names()
        for feature in getattr(registry.feature_sets[name], "needs", ()) or ()
    }
    return [
        name
        for stage in plan[1:]
        for name in stage
        if getattr(registry.feature_sets[name], "row_wise", False) and name not in needed
    ]


def _with_row_wise_sets(
    conn: Connection,
    registry: Registry,
    ctx: FeatureContext,
    tables: dict[str, Any],
    in_pass: list[str],
) -> Select[Any]:
    """The feature table's rows: the set tables joined, then each set of ``in_pass``
    computed over those rows in the same statement, carrying the other columns (nothing
    is written in between). The rows before a set are a plain subquery, which SQLite
    flattens into the set's SELECT: a value the set reads several times it computes in
    a fenced subquery of its own (churn risk's parts), which is then the one co-routine
    whose rows carry the columns through. At 1M customers churn risk in its own table,
    joined again, took 0.3-3.5 s more than in the pass (both in one process, same
    store); fencing the joined rows too cost 2.5 s more (a second copy of every
    column of every row)."""
    sets = [registry.feature_sets[name] for name in in_pass]
    if not sets:
        return set_tables_joined(tables, registry, ctx.wanted)
    their_features = {f.name for fset in sets for f in fset.features}
    needs = {n for fset in sets for n in getattr(fset, "needs", ()) or ()}
    read = None if ctx.wanted is None else (ctx.wanted - their_features) | needs
    rows: Select[Any] = set_tables_joined(tables, registry, read)
    for fset in sets:
        before = rows.subquery(f"before_{fset.name}")
        carry = tuple(c.name for c in before.c if c.name != "customer_id")
        staged = dataclasses.replace(ctx, features=before, carry=carry)
        fset.prepare(conn, staged)
        rows = fset.select(staged)
    last = rows.subquery("features_in_pass")
    written = wanted_of((registry.features[n] for n in registry.features.names()), ctx.wanted)
    return select(
        last.c.customer_id,
        *(
            (with_default(last.c[f.name], f) if f.name in their_features else last.c[f.name]).label(
                f.name
            )
            for f in written
        ),
    )


def materialize(
    conn: Connection,
    registry: Registry,
    ctx: FeatureContext,
    customer_ids: Collection[int] | None = None,
    *,
    name: str = FEATURES_TABLE,
    split: FirstStageSplit | None = None,
) -> Table:
    """Compute every feature for every (or the given) customer into a TEMP table.

    ``split``: the helper a cycle started early on :func:`unkept_first_stage` (where the
    store allows one); without it, one is started here if it can be. ``ctx.wanted``:
    only the sets holding those features are computed, into those columns."""
    table = features_table(registry, name, ctx.wanted)
    recreate(conn, table)
    if customer_ids is not None:
        ctx = dataclasses.replace(ctx, customer_ids=customer_ids)
    plan = planned_stages(registry, ctx.wanted)
    if customer_ids is None and plan and split is not None:
        _fill_from_set_tables(conn, registry, ctx, plan, table, split)
    elif customer_ids is None and plan and can_split(conn, ctx):
        with first_stage_split(conn, registry, ctx, unkept_first_stage(registry, ctx)) as own:
            assert own is not None
            _fill_from_set_tables(conn, registry, ctx, plan, table, own)
    else:
        first = _first_stage_select(conn, registry, ctx, plan[0] if plan else [], customer_ids)
        names = [c.name for c in first.selected_columns]
        conn.execute(insert(table).from_select(names, first))
        for stage in plan[1:]:
            for set_name in stage:
                _fill_later_stage(conn, table, registry.feature_sets[set_name], ctx, customer_ids)
    # On PostgreSQL the engine analyzes the table after its insert and after each update
    # of a large part of it (core.store.statistics).
    return table


def feature_rows(
    conn: Connection, registry: Registry, ctx: FeatureContext, customer_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """Feature values of a few customers, computed by the same SQL as the cycle."""
    ids = list(customer_ids)
    if not ids:
        return {}
    table = materialize(conn, registry, ctx, ids, name=FEW_FEATURES_TABLE)
    rows: dict[int, dict[str, Any]] = {}
    for row in conn.execute(select(table)).mappings():
        values = dict(row)
        customer_id = int(values.pop("customer_id"))
        rows[customer_id] = {
            name: normalize(feature.type, values.get(name))
            for name, feature in registry.features.items.items()
        }
    return rows


__all__ = ["FEATURES_TABLE", "feature_rows", "materialize", "normalize", "stages"]
