"""The property that matters: SQL (SQLite and PostgreSQL) and Python always agree.

Hypothesis builds random well-typed conditions and numeric expressions over a table of
every column type, and random rows full of NULLs and zeros; the rows go into the store
inside a transaction that is rolled back. For each example we compare, row by row:

- which rows ``WHERE <condition>`` selects with the rows where ``evaluate(...) is True``;
- ``CASE WHEN c THEN 1 WHEN NOT c THEN 0 END`` with the Python true / false / None;
- the value of a numeric expression, exactly (both sides are IEEE doubles or integers).

Numbers stay small (literals and cells within ±20, arithmetic at most three levels deep)
so no integer exceeds 2**53, where the evaluators are not required to agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    case,
    not_,
    select,
)

from core.expr import Expr, check, evaluate, parse, to_sql
from core.expr.ast import (
    Binary,
    Call,
    Compare,
    Duration,
    In,
    IsNull,
    Literal,
    Logical,
    Name,
    Neg,
    Not,
)
from core.store import Store
from core.vocabulary import FeatureType

metadata = MetaData()
table = Table(
    "expr_agreement",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("n1", BigInteger),
    Column("n2", BigInteger),
    Column("i1", Integer),
    Column("r1", Float),
    Column("r2", Float),
    Column("s1", String),
    Column("s2", String),
    Column("b1", Boolean),
    Column("b2", Boolean),
)
COLUMNS = {c.name: c for c in table.c if c.name != "id"}
NUMBER_COLUMNS = ["n1", "n2", "i1", "r1", "r2"]
STRING_COLUMNS = ["s1", "s2"]
BOOLEAN_COLUMNS = ["b1", "b2"]
FEATURES = {
    **dict.fromkeys(NUMBER_COLUMNS, FeatureType.NUMBER),
    **dict.fromkeys(STRING_COLUMNS, FeatureType.STRING),
    **dict.fromkeys(BOOLEAN_COLUMNS, FeatureType.BOOLEAN),
}

# --- rows -----------------------------------------------------------------------------

REALS = st.sampled_from([0.1, 0.2, 0.3, 1 / 3, -0.0, 2.5, -7.25]) | st.integers(-80, 80).map(
    lambda k: k / 4
)
STRINGS = ["", "vip", "VIP", "gold", "it's", "é", "a b"]
row_values = st.fixed_dictionaries(
    {
        **{name: st.none() | st.integers(-20, 20) for name in ("n1", "n2", "i1")},
        **{name: st.none() | REALS for name in ("r1", "r2")},
        **{name: st.none() | st.sampled_from(STRINGS) for name in STRING_COLUMNS},
        **{name: st.none() | st.booleans() for name in BOOLEAN_COLUMNS},
    }
)
rows = st.lists(row_values, min_size=1, max_size=6).map(
    lambda values: [{"id": i, **v} for i, v in enumerate(values, start=1)]
)

# --- expressions ----------------------------------------------------------------------

NULL = Literal(None)
number_literals = st.one_of(
    st.integers(-20, 20).map(Literal),
    st.sampled_from([0.5, -1.5, 0.1, 2.25, 0.0]).map(Literal),
    st.sampled_from(
        [Duration(1, "d"), Duration(12, "h"), Duration(2, "w"), Duration(30, "m"),
         Duration(1.5, "d"), Duration(-3, "d")]
    ),
)  # fmt: skip


def _call(name: str) -> Any:
    return lambda args: Call(name, tuple(args))


def numbers(depth: int) -> st.SearchStrategy[Expr]:
    leaves = number_literals | st.just(NULL) | st.sampled_from(NUMBER_COLUMNS).map(Name)
    if depth == 0:
        return leaves
    sub = numbers(depth - 1)
    return st.one_of(
        leaves,
        st.builds(Neg, sub),
        st.builds(Binary, st.sampled_from(["+", "-", "*", "/", "%"]), sub, sub),
        st.builds(_call("abs"), st.tuples(sub)),
        st.builds(_call("min"), st.lists(sub, min_size=2, max_size=3)),
        st.builds(_call("max"), st.lists(sub, min_size=2, max_size=3)),
        st.builds(_call("coalesce"), st.lists(sub, min_size=2, max_size=3)),
    )


def not_null(strategy: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    """Comparing with a bare null literal is refused by check(); NULLs still come from rows."""
    return strategy.filter(lambda e: e != NULL)


string_values = st.one_of(
    st.sampled_from(STRINGS).map(Literal),
    st.sampled_from(STRING_COLUMNS).map(Name),
    st.builds(
        _call("coalesce"),
        st.lists(st.sampled_from([*STRING_COLUMNS, None, "vip"]), min_size=2, max_size=3).map(
            lambda xs: [Name(x) if x in STRING_COLUMNS else Literal(x) for x in xs]
        ),
    ),
)


def conditions(depth: int) -> st.SearchStrategy[Expr]:
    leaves = st.sampled_from([Literal(True), Literal(False), NULL]) | st.sampled_from(
        BOOLEAN_COLUMNS
    ).map(Name)
    num = not_null(numbers(3))
    comparisons = st.one_of(
        st.builds(Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), num, num),
        st.builds(Compare, st.sampled_from(["==", "!="]), string_values, not_null(string_values)),
        st.builds(In, numbers(2), st.lists(number_literals, max_size=3).map(tuple), st.booleans()),
        st.builds(
            In,
            string_values,
            st.lists(st.sampled_from(STRINGS).map(Literal), max_size=3).map(tuple),
            st.booleans(),
        ),
        st.builds(IsNull, numbers(2) | string_values, st.booleans()),
    )
    if depth == 0:
        return leaves | comparisons
    sub = conditions(depth - 1)
    return st.one_of(
        leaves,
        comparisons,
        st.builds(Not, sub),
        st.builds(Logical, st.sampled_from(["and", "or"]), sub, sub),
        st.builds(Compare, st.sampled_from(["==", "!="]), not_null(sub), not_null(sub)),
        st.builds(
            In,
            sub,
            st.lists(st.sampled_from([Literal(True), Literal(False)]), max_size=2).map(tuple),
            st.booleans(),
        ),
        st.builds(IsNull, sub, st.booleans()),
        st.builds(_call("coalesce"), st.lists(sub, min_size=2, max_size=3)),
    )


# A bare ``null`` (or coalesce of nulls) is refused as a whole condition by check().
CONDITIONS = conditions(2).filter(lambda e: not check(e, FEATURES))
NUMBERS = numbers(3)

# --- the test -------------------------------------------------------------------------


@pytest.fixture
def agreement_store(store: Store) -> Iterator[Store]:
    metadata.create_all(store.engine)
    yield store


def _same(sql: object, python: object) -> bool:
    if sql is None or python is None:
        return sql is None and python is None
    return sql == python and not isinstance(sql, bool) and not isinstance(python, bool)


@settings(
    max_examples=int(os.environ.get("PATRON_AGREEMENT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(condition=CONDITIONS, number=NUMBERS, data=rows)
def test_sql_and_python_agree(
    agreement_store: Store, condition: Expr, number: Expr, data: list[dict[str, Any]]
) -> None:
    assert check(condition, FEATURES) == [], str(condition)
    assert parse(str(condition)) == condition
    assert parse(str(number)) == number

    expected = {row["id"]: evaluate(condition, row) for row in data}
    expected_numbers = {row["id"]: evaluate(number, row) for row in data}
    pred = to_sql(condition, COLUMNS)
    truth = case((pred, 1), (not_(pred), 0), else_=None)

    with agreement_store.engine.connect() as conn, conn.begin() as transaction:
        conn.execute(table.insert(), data)
        matched = set(conn.scalars(select(table.c.id).where(pred)))
        values = dict(conn.execute(select(table.c.id, truth)).all())
        numbers_got = dict(conn.execute(select(table.c.id, to_sql(number, COLUMNS))).all())
        transaction.rollback()

    assert matched == {i for i, v in expected.items() if v is True}, str(condition)
    assert values == {i: None if v is None else (1 if v else 0) for i, v in expected.items()}, str(
        condition
    )
    for i, value in expected_numbers.items():
        assert _same(numbers_got[i], value), (str(number), i, numbers_got[i], value)
