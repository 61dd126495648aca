"""The SQL pieces of the feature table shared by the single-query and the split paths:
column types, the order of stages (``needs``), defaults, and each set's subquery."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Boolean, Float, String, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from core.errors import PluginError
from core.registry import Registry
from core.vocabulary import Feature, FeatureContext, FeatureSet, FeatureType

SQL_TYPES: dict[FeatureType, Any] = {
    FeatureType.NUMBER: Float,
    FeatureType.STRING: String,
    FeatureType.BOOLEAN: Boolean,
}


def stages(registry: Registry) -> list[list[str]]:
    """Feature-set names grouped in the order they can be computed (``needs`` first)."""
    depends: dict[str, set[str]] = {}
    for set_name in registry.feature_sets.names():
        needs = getattr(registry.feature_sets[set_name], "needs", ()) or ()
        owners = set()
        for feature in needs:
            if feature not in registry.feature_set_of:
                raise PluginError(f"feature set '{set_name}' needs unknown feature '{feature}'")
            owners.add(registry.feature_set_of[feature])
        depends[set_name] = owners - {set_name}
    ordered: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(depends):
        ready = sorted(n for n, deps in depends.items() if n not in done and deps <= done)
        if not ready:
            cycle = sorted(n for n in depends if n not in done)
            raise PluginError(f"feature sets need each other in a cycle: {', '.join(cycle)}")
        ordered.append(ready)
        done.update(ready)
    return ordered


def with_default(column: ColumnElement[Any], feature: Feature) -> ColumnElement[Any]:
    if feature.default is None:
        return column
    return func.coalesce(column, literal(feature.default))


def set_subquery(
    fset: FeatureSet, ctx: FeatureContext, customer_ids: Collection[int] | None
) -> Any:
    """The set's SELECT as a subquery, restricted to ``customer_ids`` when given.

    A set that ranks the whole base (``population = True``) is filtered after its
    window functions ran; any other set is filtered inside, where indexes help.
    """
    query = fset.select(ctx)
    if customer_ids is None:
        return query.subquery(f"fs_{fset.name}")
    if getattr(fset, "population", False):
        sub = query.subquery(f"all_{fset.name}")
        return (
            select(sub).where(sub.c.customer_id.in_(list(customer_ids))).subquery(f"fs_{fset.name}")
        )
    return query.where(query.selected_columns.customer_id.in_(list(customer_ids))).subquery(
        f"fs_{fset.name}"
    )


__all__ = ["SQL_TYPES", "set_subquery", "stages", "with_default"]
