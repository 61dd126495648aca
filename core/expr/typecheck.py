"""Static checks of a parsed condition against the known features.

Types are the three :class:`~core.vocabulary.FeatureType` values plus ``null`` (the
``null`` literal, compatible with every type). :func:`check` reports every problem it
finds, each with the column to point at, so the operator fixes them all in one go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.expr.ast import (
    ORDERING_OPS,
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
)
from core.suggest import did_you_mean
from core.vocabulary import FeatureType

NUMBER, STRING, BOOLEAN = "number", "string", "boolean"
NULL = "null"  # the null literal: fits anywhere
ERROR = "error"  # a sub-expression already reported; stay quiet about it

# name -> (fewest arguments, most arguments or None for no limit)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "coalesce": (2, None),
}
_NULL_TESTS = {"==": "null", "!=": "not null"}


@dataclass(frozen=True)
class ExprProblem:
    """One thing wrong with a condition, with the 1-based column it concerns."""

    message: str
    column: int | None = None


def check(expr: Expr, features: Mapping[str, FeatureType]) -> list[ExprProblem]:
    """Every problem of ``expr`` as a condition over ``features``; empty when it is fine."""
    checker = _Checker(features)
    result = checker.type_of(expr)
    if result not in (BOOLEAN, ERROR):
        what = "null" if result == NULL else f"a {result}"
        checker.report(
            f"the condition must be true or false, but this is {what}", start_column(expr)
        )
    return checker.problems


def start_column(node: Expr) -> int:
    """Column where the node's source text starts."""
    if isinstance(node, Binary | Compare | Logical):
        return start_column(node.left)
    if isinstance(node, In | IsNull):
        return start_column(node.operand)
    return node.column


def describe(node: Expr, type_: str) -> str:
    """``number 3``, ``string "vip"``, ``null`` for literals; ``string 'tier'`` otherwise."""
    if isinstance(node, Literal | Duration):
        return str(node) if type_ == NULL else f"{type_} {node}"
    return f"{type_} '{node}'"


def literal_type(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, str):
        return STRING
    return NUMBER


class _Checker:
    def __init__(self, features: Mapping[str, FeatureType]) -> None:
        self.features = features
        self.problems: list[ExprProblem] = []

    def report(self, message: str, column: int) -> None:
        self.problems.append(ExprProblem(message, column or None))

    def type_of(self, node: Expr) -> str:
        if isinstance(node, Literal):
            return literal_type(node.value)
        if isinstance(node, Duration):
            return NUMBER
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Neg):
            self.need(node.operand, NUMBER, "'-' needs a number", node.column)
            return NUMBER
        if isinstance(node, Binary):
            for side in (node.left, node.right):
                self.need(side, NUMBER, f"'{node.op}' needs numbers", node.column)
            return NUMBER
        if isinstance(node, Compare):
            self.compare(node)
            return BOOLEAN
        if isinstance(node, In):
            self.membership(node)
            return BOOLEAN
        if isinstance(node, IsNull):
            self.type_of(node.operand)
            return BOOLEAN
        if isinstance(node, Not):
            self.need(node.operand, BOOLEAN, "'not' needs true or false", node.column)
            return BOOLEAN
        if isinstance(node, Logical):
            for side in (node.left, node.right):
                self.need(side, BOOLEAN, f"'{node.op}' needs true or false", node.column)
            return BOOLEAN
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"not an expression node: {node!r}")

    def name(self, node: Name) -> str:
        known = self.features.get(node.name)
        if known is None:
            hint = did_you_mean(node.name, self.features)
            self.report(f"unknown feature '{node.name}'{hint}", node.column)
            return ERROR
        return FeatureType(known).value

    def need(self, node: Expr, wanted: str, what: str, column: int) -> None:
        """Type ``node`` and report ``<what>, not <type> '<text>'`` unless it is ``wanted``."""
        found = self.type_of(node)
        if found not in (wanted, NULL, ERROR):
            self.report(f"{what}, not {describe(node, found)}", column)

    def compare(self, node: Compare) -> None:
        left, right = self.type_of(node.left), self.type_of(node.right)
        if ERROR in (left, right):
            return
        for null_side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(null_side, Literal) and null_side.value is None:
                advice = {
                    "==": f": write '{other} is null'",
                    "!=": f": write '{other} is not null'",
                }
                self.report(
                    f"comparing with null using '{node.op}' is never true{advice.get(node.op, '')}",
                    node.column,
                )
                return
        if NULL not in (left, right) and left != right:
            self.report(
                f"cannot compare {describe(node.left, left)} with {describe(node.right, right)}"
                f" using '{node.op}'",
                node.column,
            )
        elif node.op in ORDERING_OPS:
            for side, found in ((node.left, left), (node.right, right)):
                if found not in (NUMBER, NULL):
                    self.report(
                        f"'{node.op}' needs numbers, not {describe(side, found)}"
                        " (only numbers can be ordered)",
                        node.column,
                    )
                    return

    def membership(self, node: In) -> None:
        left = self.type_of(node.operand)
        if left in (ERROR, NULL):
            return
        op = "not in" if node.negated else "in"
        for item in node.items:
            found = literal_type(item.value)
            if found != left:
                self.report(
                    f"cannot compare {describe(node.operand, left)} with {describe(item, found)}"
                    f" using '{op}'",
                    item.column,
                )
                return

    def call(self, node: Call) -> str:
        types = [self.type_of(arg) for arg in node.args]
        arity = FUNCTIONS.get(node.name)
        if arity is None:
            hint = did_you_mean(node.name, FUNCTIONS)
            self.report(f"unknown function '{node.name}'{hint}", node.column)
            return ERROR
        fewest, most = arity
        got = len(node.args)
        if most is not None and fewest == most and got != fewest:
            plural = "" if fewest == 1 else "s"
            self.report(f"{node.name}() takes {fewest} argument{plural}, got {got}", node.column)
        elif got < fewest or (most is not None and got > most):
            self.report(f"{node.name}() takes at least {fewest} arguments, got {got}", node.column)
        if node.name == "coalesce":
            return self.coalesce(node, types)
        for arg, found in zip(node.args, types, strict=True):
            if found not in (NUMBER, NULL, ERROR):
                self.report(f"{node.name}() needs numbers, not {describe(arg, found)}", node.column)
        return NUMBER

    def coalesce(self, node: Call, types: list[str]) -> str:
        if ERROR in types:
            return ERROR
        first: tuple[Expr, str] | None = None
        for arg, found in zip(node.args, types, strict=True):
            if found == NULL:
                continue
            if first is None:
                first = (arg, found)
            elif found != first[1]:
                self.report(
                    f"coalesce() cannot mix {describe(*first)} with {describe(arg, found)}",
                    node.column,
                )
                return ERROR
        return first[1] if first else NULL
