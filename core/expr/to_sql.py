"""Compiling a condition to a SQLAlchemy boolean expression (SQLite and PostgreSQL).

The SQL computes exactly what :mod:`core.expr.evaluate` computes, NULLs included:

- every literal is a typed bound parameter (``BIGINT``, ``FLOAT``, ``VARCHAR``,
  ``BOOLEAN``); ``null`` becomes ``CAST(NULL AS <type>)`` with the type its context needs;
- ``a / b`` is ``CAST(a AS FLOAT) / NULLIF(CAST(b AS FLOAT), 0)``: real division on both
  dialects, NULL instead of an error or an integer quotient;
- ``a % b`` truncates both sides to integers first (PostgreSQL has no ``%`` on reals,
  SQLite truncates), with ``NULLIF(b, 0)``;
- ``min``/``max`` are SQLite's multi-argument ``min``/``max`` (NULL if any argument is)
  and, on PostgreSQL, ``LEAST``/``GREATEST`` guarded to be NULL if any argument is;
- ``INTEGER`` columns are widened to ``BIGINT`` on PostgreSQL and ``NUMERIC`` columns
  read as ``FLOAT``, so arithmetic neither overflows at 2**31 nor differs from Python.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Numeric,
    String,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

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
)
from core.expr.typecheck import BOOLEAN, NUMBER, STRING, literal_type

SQL = ColumnElement[Any]

_SQL_TYPES: dict[str, type[TypeEngine[Any]]] = {
    NUMBER: Float,
    STRING: String,
    BOOLEAN: Boolean,
}


def to_sql(expr: Expr, columns: Mapping[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """A boolean SQL expression true exactly for the rows where ``evaluate`` is True.

    ``columns`` maps each feature name to its column; raises ValueError for a name or
    function it does not know (run :func:`core.expr.typecheck.check` first).
    """
    return _Compiler(columns).compile(expr, BOOLEAN)


class _TruncInt(FunctionElement[Any]):
    """A number truncated toward zero to an integer."""

    type = BigInteger()
    name = "patron_trunc_int"
    inherit_cache = True


@compiles(_TruncInt)
def _trunc_int_default(element: _TruncInt, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(TRUNC(CAST({arg} AS DOUBLE PRECISION)) AS BIGINT)"


@compiles(_TruncInt, "sqlite")
def _trunc_int_sqlite(element: _TruncInt, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


class _Least(FunctionElement[Any]):
    """``min`` over several numbers, NULL if any of them is NULL."""

    type = Float()
    name = "patron_least"
    inherit_cache = True
    sqlite_name, postgres_name = "min", "LEAST"


class _Greatest(FunctionElement[Any]):
    """``max`` over several numbers, NULL if any of them is NULL."""

    type = Float()
    name = "patron_greatest"
    inherit_cache = True
    sqlite_name, postgres_name = "max", "GREATEST"


@compiles(_Least)
@compiles(_Greatest)
def _extreme_default(element: _Least | _Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    # LEAST/GREATEST skip NULLs; the language's min/max are NULL if any argument is.
    args = [compiler.process(arg, **kw) for arg in element.clauses]
    guard = " OR ".join(f"({arg}) IS NULL" for arg in args)
    return f"(CASE WHEN {guard} THEN NULL ELSE {element.postgres_name}({', '.join(args)}) END)"


@compiles(_Least, "sqlite")
@compiles(_Greatest, "sqlite")
def _extreme_sqlite(element: _Least | _Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's multi-argument min()/max() are already NULL if any argument is.
    args = ", ".join(compiler.process(arg, **kw) for arg in element.clauses)
    return f"{element.sqlite_name}({args})"


class _Widen(FunctionElement[Any]):
    """An INTEGER column as BIGINT on PostgreSQL (unchanged elsewhere)."""

    type = BigInteger()
    name = "patron_widen"
    inherit_cache = True


@compiles(_Widen)
def _widen_default(element: _Widen, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS BIGINT)"


@compiles(_Widen, "sqlite")
def _widen_sqlite(element: _Widen, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


def _kind_of_type(type_: TypeEngine[Any]) -> str | None:
    if isinstance(type_, Boolean):
        return BOOLEAN
    if isinstance(type_, String):
        return STRING
    # Float is not a Numeric subclass in every SQLAlchemy 2.x release; name both.
    if isinstance(type_, Integer | Numeric | Float):
        return NUMBER
    return None


def _literal(value: object) -> SQL:
    if isinstance(value, bool):
        return literal(value, Boolean())
    if isinstance(value, int):
        return literal(value, BigInteger())
    if isinstance(value, float):
        return literal(value, Float())
    if isinstance(value, str):
        return literal(value, String())
    raise TypeError(f"not a literal value: {value!r}")


class _Compiler:
    def __init__(self, columns: Mapping[str, ColumnElement[Any]]) -> None:
        self.columns = columns

    def kind(self, node: Expr) -> str | None:
        """The value type of ``node`` as far as SQL is concerned; None if unknown (null)."""
        if isinstance(node, Literal | Duration):
            found = literal_type(node.value)
            return None if found == "null" else found
        if isinstance(node, Name):
            return _kind_of_type(self.column(node.name).type)
        if isinstance(node, Neg | Binary):
            return NUMBER
        if isinstance(node, Call):
            if node.name == "coalesce":
                return next((k for k in map(self.kind, node.args) if k), None)
            return NUMBER
        return BOOLEAN

    def column(self, name: str) -> SQL:
        try:
            return self.columns[name]
        except KeyError:
            raise ValueError(f"no column for feature '{name}'") from None

    def compile(self, node: Expr, want: str | None) -> SQL:
        """SQL for ``node``; ``want`` is the type its context needs (types a null)."""
        if isinstance(node, Literal | Duration):
            if node.value is None:
                return cast(null(), _SQL_TYPES[want or NUMBER]())
            return _literal(node.value)
        if isinstance(node, Name):
            return self.name(node.name)
        if isinstance(node, Neg):
            return -self.operand(node.operand, NUMBER)
        if isinstance(node, Binary):
            return self.arithmetic(node)
        if isinstance(node, Compare):
            want = NUMBER
            if node.op in ("==", "!="):
                want = self.kind(node.left) or self.kind(node.right) or NUMBER
            left, right = self.operand(node.left, want), self.operand(node.right, want)
            return _COMPARE[node.op](left, right)
        if isinstance(node, In):
            return self.membership(node)
        if isinstance(node, IsNull):
            operand = self.operand(node.operand, self.kind(node.operand) or NUMBER)
            return operand.is_not(None) if node.negated else operand.is_(None)
        if isinstance(node, Not):
            return not_(self.operand(node.operand, BOOLEAN))
        if isinstance(node, Logical):
            left, right = self.operand(node.left, BOOLEAN), self.operand(node.right, BOOLEAN)
            return and_(left, right) if node.op == "and" else or_(left, right)
        if isinstance(node, Call):
            return self.call(node, want)
        raise TypeError(f"cannot compile {node!r}")

    def operand(self, node: Expr, want: str | None) -> SQL:
        """SQL for an operand, parenthesised unless atomic.

        SQLAlchemy does not always group a NOT or a comparison inside another operator
        (it renders ``NOT b = c``, which PostgreSQL reads as ``NOT (b = c)``).
        """
        sql = self.compile(node, want)
        if isinstance(node, Name | Literal | Duration | Call):
            return sql
        return Grouping(sql)

    def name(self, name: str) -> SQL:
        col = self.column(name)
        if isinstance(col.type, Integer) and not isinstance(col.type, BigInteger):
            return _Widen(col)
        if isinstance(col.type, Numeric) and not isinstance(col.type, Float):
            return cast(col, Float())
        return col

    def arithmetic(self, node: Binary) -> SQL:
        left, right = self.operand(node.left, NUMBER), self.operand(node.right, NUMBER)
        if node.op == "/":
            divisor = func.nullif(cast(right, Float()), literal(0.0, Float()), type_=Float())
            return cast(left, Float()).op("/", return_type=Float())(divisor)
        if node.op == "%":
            divisor = func.nullif(_TruncInt(right), literal(0, BigInteger()), type_=BigInteger())
            return _TruncInt(left) % divisor
        # A custom operator, not SQLAlchemy's + and *: those flatten a + (b + c) into
        # a + b + c, and real addition is not associative.
        integers = all(isinstance(side.type, Integer) for side in (left, right))
        result = BigInteger() if integers else Float()
        return left.op(node.op, precedence=_PRECEDENCE[node.op], return_type=result)(right)

    def membership(self, node: In) -> SQL:
        if not node.items:
            return true() if node.negated else false()
        want = self.kind(node.items[0])
        operand = self.operand(node.operand, want)
        items = [_literal(item.value) for item in node.items]
        return operand.not_in(items) if node.negated else operand.in_(items)

    def call(self, node: Call, want: str | None) -> SQL:
        if node.name == "coalesce":
            want = self.kind(node) or want
            return func.coalesce(*(self.compile(arg, want) for arg in node.args))
        args = [self.compile(arg, NUMBER) for arg in node.args]
        if node.name == "abs":
            return func.abs(*args)
        if node.name in ("min", "max"):
            return _Greatest(*args) if node.name == "max" else _Least(*args)
        raise ValueError(f"unknown function '{node.name}'")


_COMPARE: dict[str, Callable[[SQL, SQL], SQL]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_PRECEDENCE = {"+": 7, "-": 7, "*": 8}  # as SQLAlchemy ranks +, - and *
