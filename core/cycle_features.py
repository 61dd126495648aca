"""Which features a cycle computes: those its due rules, stages and effects read.

The feature table of a cycle is read by the due rules' conditions, by the stages that
run after the features (a tier's condition, an SLA profile's ``when``, a journey's
``enroll_when``) and by the effects of the due rules' actions (points scaled by tier).
Every other feature is computed for nothing: a set none of whose features is read is
skipped, and the table has only the columns read. The sets that a read set ``needs``
are computed as well.

A stage or an effect that does not say what it reads (``reads`` None) may read any
feature, and the cycle then computes them all, as it did before stages could say.
``explain``, previews and delivery compute every feature of a few customers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.expr import feature_names
from core.feature_sql import stages
from core.registry import Registry
from core.rules import RuleDef
from core.vocabulary import CycleStage, Feature


def cycle_features(
    registry: Registry,
    rules: Any,
    due: Sequence[RuleDef],
    cycle_stages: Iterable[CycleStage],
) -> frozenset[str] | None:
    """The features a cycle evaluating ``due`` and running ``cycle_stages`` reads, with
    what they need; None when a stage or an effect may read any."""
    names: set[str] = set()
    for rule in due:
        names |= feature_names(rule.condition)
        for action in rule.actions:
            if action.type.apply is None:
                continue
            if action.type.reads is None:
                return None
            names |= set(action.type.reads(action.params))
    for stage in cycle_stages:
        if stage.before_features:
            continue
        if stage.reads is None:
            return None
        names |= set(stage.reads(rules))
    return with_needs(registry, names)


def with_needs(registry: Registry, names: Iterable[str]) -> frozenset[str]:
    """``names`` that are features, and the features their sets need, transitively."""
    wanted = {n for n in names if n in registry.feature_set_of}
    waiting = list(wanted)
    while waiting:
        fset = registry.feature_sets[registry.feature_set_of[waiting.pop()]]
        for need in getattr(fset, "needs", ()) or ():
            if need not in wanted:
                wanted.add(need)
                waiting.append(need)
    return frozenset(wanted)


def wanted_of(features: Iterable[Feature], wanted: frozenset[str] | None) -> list[Feature]:
    """The features of a set (or of the registry) that are wanted, in their order."""
    return [f for f in features if wanted is None or f.name in wanted]


def planned_stages(registry: Registry, wanted: frozenset[str] | None) -> list[list[str]]:
    """:func:`core.feature_sql.stages`, with only the sets that hold a wanted feature."""
    plan = [
        [name for name in stage if wanted_of(registry.feature_sets[name].features, wanted)]
        for stage in stages(registry)
    ]
    return [stage for stage in plan if stage]


__all__ = ["cycle_features", "planned_stages", "wanted_of", "with_needs"]
