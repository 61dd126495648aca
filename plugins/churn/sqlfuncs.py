"""Small SQL helpers of the churn plugin that render alike on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class greatest(FunctionElement[Any]):  # lower case: reads like the SQL function it renders
    """GREATEST(a, b, ...) on PostgreSQL, max(a, b, ...) on SQLite (never pass NULLs)."""

    type = Float()
    inherit_cache = True


class least(FunctionElement[Any]):  # lower case: reads like the SQL function it renders
    """LEAST(a, b, ...) on PostgreSQL, min(a, b, ...) on SQLite (never pass NULLs)."""

    type = Float()
    inherit_cache = True


@compiles(greatest)
def _greatest(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least)
def _least(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


def clipped(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """``value`` limited to 0–1; NULL (no signal) counts as 0. ``value`` appears once."""
    return least(greatest(func.coalesce(value, 0.0), 0.0), 1.0)


__all__ = ["clipped", "greatest", "least"]
