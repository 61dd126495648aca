"""Deciding, at ``patron check``, whether a tier in an ordered list can ever be reached.

Tiers are tried in order and the first whose condition holds wins, so a tier is
unreachable when every customer its condition admits is admitted by an earlier tier.
For conditions made of comparisons of one feature with literals (``spend_365d >=
1000000``, ``tier_name in [...]``, ``has_email``, ``x is null``) joined by ``and``/``or``/
``not``, this is decided exactly: the literals cut each feature's values into a few
cells (below, at and between the thresholds, above, null) inside which every comparison
has one truth value, so evaluating the conditions on one representative per
combination of cells covers every possible customer.

Conditions outside that fragment (arithmetic, functions, two features compared) are not
analysed: an earlier such tier is left out of the union (which can only hide a
problem, never invent one) and a later such tier is assumed reachable.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.expr import Expr, evaluate
from core.expr.ast import Compare, Duration, In, IsNull, Literal, Logical, Name, Not
from core.vocabulary import FeatureType

MAX_COMBINATIONS = 20_000
_OTHER_TEXT = "\x00other"  # a string value equal to no literal


@dataclass(frozen=True)
class Verdict:
    """Whether the tier at ``index`` can be reached, and which earlier tiers cover it."""

    index: int
    satisfiable: bool
    reachable: bool
    covered_by: tuple[int, ...] = ()


def analysable(expr: Expr) -> bool:
    """Whether the condition is in the fragment decided exactly (see the module doc)."""
    if isinstance(expr, Logical):
        return analysable(expr.left) and analysable(expr.right)
    if isinstance(expr, Not):
        return analysable(expr.operand)
    if isinstance(expr, Name | Literal):
        return True
    if isinstance(expr, IsNull):
        return isinstance(expr.operand, Name)
    if isinstance(expr, In):
        return isinstance(expr.operand, Name)
    if isinstance(expr, Compare):
        sides = (expr.left, expr.right)
        names = [s for s in sides if isinstance(s, Name)]
        constants = [s for s in sides if isinstance(s, Literal | Duration)]
        return len(names) == 1 and len(constants) == 1
    return False


def _constants(expr: Expr, into: dict[str, set[object]]) -> None:
    if isinstance(expr, Logical):
        _constants(expr.left, into)
        _constants(expr.right, into)
    elif isinstance(expr, Not | IsNull):
        _constants(expr.operand, into)
    elif isinstance(expr, Name):
        into.setdefault(expr.name, set())
    elif isinstance(expr, In) and isinstance(expr.operand, Name):
        into.setdefault(expr.operand.name, set()).update(item.value for item in expr.items)
    elif isinstance(expr, Compare):
        name = next(s for s in (expr.left, expr.right) if isinstance(s, Name))
        other = next(s for s in (expr.left, expr.right) if isinstance(s, Literal | Duration))
        into.setdefault(name.name, set()).add(other.value)


def _cells(kind: FeatureType, constants: set[object]) -> list[object]:
    """One representative value per cell of the feature's values, null included."""
    if kind is FeatureType.BOOLEAN:
        return [None, True, False]
    if kind is FeatureType.STRING:
        return [None, _OTHER_TEXT, *sorted(c for c in constants if isinstance(c, str))]
    points = sorted(
        {float(c) for c in constants if isinstance(c, int | float) and not isinstance(c, bool)}
    )
    if not points:
        return [None, 0]
    values: list[object] = [None, points[0] - 1, points[-1] + 1]
    for low, high in itertools.pairwise(points):
        values.append((low + high) / 2)
    values.extend(points)
    return values


def reachability(
    conditions: Sequence[Expr | None], features: Mapping[str, FeatureType]
) -> list[Verdict]:
    """A verdict for each tier that can be decided (``None`` conditions match everyone).

    Tiers whose condition is outside the fragment, or whose analysis would take more than
    MAX_COMBINATIONS evaluations, get no verdict.
    """
    verdicts: list[Verdict] = []
    for index, expr in enumerate(conditions):
        if expr is None or not analysable(expr):
            continue
        earlier = [
            (i, e) for i, e in enumerate(conditions[:index]) if e is not None and analysable(e)
        ]
        constants: dict[str, set[object]] = {}
        for _, condition in [(index, expr), *earlier]:
            _constants(condition, constants)
        if any(name not in features for name in constants):
            continue  # reported by the type check
        names = sorted(constants)
        cells = [_cells(features[name], constants[name]) for name in names]
        total = 1
        for values in cells:
            total *= len(values)
        if total > MAX_COMBINATIONS:
            continue
        satisfiable = reachable = False
        covering: set[int] = set()
        for combination in itertools.product(*cells):
            row = dict(zip(names, combination, strict=True))
            if evaluate(expr, row) is not True:
                continue
            satisfiable = True
            taken = [i for i, e in earlier if evaluate(e, row) is True]
            if not taken:
                reachable = True
                break
            covering.add(taken[0])
        verdicts.append(
            Verdict(index, satisfiable, reachable, () if reachable else tuple(sorted(covering)))
        )
    return verdicts


__all__ = ["MAX_COMBINATIONS", "Verdict", "analysable", "reachability"]
