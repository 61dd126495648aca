"""The Python evaluator: SQL semantics, one node at a time.

``None`` is SQL NULL. :func:`apply` gives the value of one node from the values of its
children (:func:`core.expr.ast.children`), so :func:`evaluate` and
:func:`core.expr.trace.trace` share every rule. The rules mirror
:func:`core.expr.to_sql.to_sql` exactly:

- comparisons, arithmetic and functions other than ``coalesce`` are NULL when an operand
  is NULL; ``and``/``or``/``not`` follow Kleene three-valued logic; ``is null`` is never
  NULL; ``x in [...]`` is NULL for a NULL ``x`` (false for an empty list);
- ``/`` is real division, NULL when dividing by zero;
- ``%`` truncates both operands toward zero, then gives the remainder with the sign of
  the left operand, NULL when the right operand truncates to zero.

:func:`evaluate` expects an expression that passed :func:`core.expr.typecheck.check`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from core.expr.ast import (
    Binary,
    Call,
    Compare,
    Duration,
    Expr,
    In,
    IsNull,
    Literal,
    Logical,
    Name,
    Neg,
    Not,
    children,
)


def evaluate(expr: Expr, row: Mapping[str, object]) -> object:
    """The value of ``expr`` for one row of features; None means NULL (unknown).

    A rule matches when the result ``is True``. A feature missing from ``row`` is NULL.
    """
    if isinstance(expr, Name):
        return lookup(row, expr.name)
    return apply(expr, [evaluate(child, row) for child in children(expr)])


def lookup(row: Mapping[str, object], name: str) -> object:
    """A feature's value, with Decimal (PostgreSQL numeric) read as a float."""
    value = row.get(name)
    if isinstance(value, Decimal):
        return float(value)
    return value


def truth(value: object) -> bool | None:
    """A value in a true/false position: booleans, or numbers stored as 0/1 (SQLite)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    raise TypeError(f"expected true or false, got {value!r}")


def apply(node: Expr, args: Sequence[Any]) -> object:
    """The value of ``node`` given the values of its children, in order."""
    if isinstance(node, Literal | Duration):
        return node.value
    if isinstance(node, IsNull):
        return (args[0] is not None) if node.negated else (args[0] is None)
    if isinstance(node, Not):
        value = truth(args[0])
        return None if value is None else not value
    if isinstance(node, Logical):
        return _logical(node.op, truth(args[0]), truth(args[1]))
    if isinstance(node, Call) and node.name == "coalesce":
        return next((a for a in args if a is not None), None)
    if isinstance(node, In):
        return _membership(node, args[0])
    if any(a is None for a in args):
        return None
    if isinstance(node, Neg):
        return -args[0]
    if isinstance(node, Binary):
        return _ARITHMETIC[node.op](args[0], args[1])
    if isinstance(node, Compare):
        return bool(_COMPARISONS[node.op](args[0], args[1]))
    if isinstance(node, Call):
        return _FUNCTIONS[node.name](args)
    raise TypeError(f"cannot evaluate {node!r}")


def _logical(op: str, left: bool | None, right: bool | None) -> bool | None:
    if op == "and":
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _membership(node: In, value: object) -> bool | None:
    if not node.items:
        return node.negated
    if value is None:
        return None
    found = any(value == item.value for item in node.items)
    return found != node.negated


def _divide(a: Any, b: Any) -> float | None:
    if b == 0:
        return None
    return float(a) / float(b)


def _remainder(a: Any, b: Any) -> int | None:
    dividend: int = math.trunc(a)
    divisor: int = math.trunc(b)
    if divisor == 0:
        return None
    rest = abs(dividend) % abs(divisor)
    return -rest if dividend < 0 else rest


_ARITHMETIC: dict[str, Callable[[Any, Any], object]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "%": _remainder,
}

_COMPARISONS: dict[str, Callable[[Any, Any], object]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_FUNCTIONS: dict[str, Callable[[Sequence[Any]], object]] = {
    "abs": lambda args: abs(args[0]),
    "min": min,
    "max": max,
}
