"""Compiled SQL on SQLite and PostgreSQL agrees with the Python evaluator on fixed rows."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    case,
    not_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.expr import evaluate, parse, to_sql
from core.store import Store

metadata = MetaData()
customers = Table(
    "expr_customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("tier", String),
    Column("days", BigInteger),
    Column("small", Integer),  # INTEGER: widened to BIGINT on PostgreSQL
    Column("risk", Float),
    Column("amount", Numeric(12, 2)),  # NUMERIC: read as FLOAT
    Column("vip", Boolean),
    Column("opted_in", Boolean),
)
COLUMNS = {c.name: c for c in customers.c if c.name != "id"}

ROWS: list[dict[str, Any]] = [
    {"id": 1, "tier": "vip", "days": 120, "small": 7, "risk": 0.75, "amount": Decimal("12.50"),
     "vip": True, "opted_in": True},
    {"id": 2, "tier": "gold", "days": 30, "small": -7, "risk": 0.2, "amount": Decimal("0.10"),
     "vip": False, "opted_in": None},
    {"id": 3, "tier": None, "days": None, "small": None, "risk": None, "amount": None,
     "vip": None, "opted_in": None},
    {"id": 4, "tier": "VIP", "days": 90, "small": 100000, "risk": 0.6, "amount": Decimal("-3.00"),
     "vip": True, "opted_in": False},
    {"id": 5, "tier": "", "days": 0, "small": 0, "risk": 0.0, "amount": Decimal("0"),
     "vip": False, "opted_in": True},
]  # fmt: skip

CASES: list[tuple[str, set[int]]] = [
    ('tier == "vip" and days >= 90 and risk >= 0.6', {1}),
    ("tier == 'VIP'", {4}),
    ("tier != 'vip'", {2, 4, 5}),
    ("tier == ''", {5}),
    ("days >= 90d", {1, 4}),
    ("days >= 13w", {1}),
    ("days > 12h", {1, 2, 4}),
    ("risk >= 0.6", {1, 4}),
    ("risk + 0.1 > 0.3", {1, 2, 4}),  # 0.2 + 0.1 == 0.30000000000000004
    ("days / small > 17", {1}),
    ("days / small < -4", {2}),
    ("days / 0 is null", {1, 2, 3, 4, 5}),
    ("7 / 2 == 3.5 and days is not null", {1, 2, 4, 5}),
    ("small % 3 == -1", {2}),
    ("small % 3 == 1", {1, 4}),
    ("small % 0 is null and small is not null", {1, 2, 4, 5}),
    ("risk % 1 == 0", {1, 2, 4, 5}),
    ("small * small > 2000000000", {4}),
    ("small * small * small > 0", {1, 4}),
    ("-small > 0", {2}),
    ("abs(small) == 7", {1, 2}),
    ("min(days, small) < 10", {1, 2, 5}),
    ("max(days, small, 50) == 50", {2, 5}),
    ("min(days, risk) is null", {3}),
    ("coalesce(days, -1) < 0", {3}),
    ("coalesce(tier, 'none') == 'none'", {3}),
    ("coalesce(null, opted_in, false) == false", {2, 3, 4}),
    ("coalesce(null, null) is null", {1, 2, 3, 4, 5}),
    ("amount > 12", {1}),
    ("amount / 4 == 3.125", {1}),
    ("amount * 3 == 0.30000000000000004", {2}),
    ("vip", {1, 4}),
    ("not vip", {2, 5}),
    ("vip == true", {1, 4}),
    ("vip == false", {2, 5}),
    ("vip != opted_in", {4, 5}),
    ("vip and opted_in", {1}),
    ("vip or opted_in", {1, 4, 5}),
    ("not (vip and opted_in)", {2, 4, 5}),
    ("not (vip or opted_in)", set()),
    ("opted_in is null", {2, 3}),
    ("(days > 50) == vip", {1, 2, 4, 5}),
    ("(days > 50) is null", {3}),
    ("tier in ['vip', 'gold']", {1, 2}),
    ("tier not in ['vip', 'gold']", {4, 5}),
    ("days in [90, 120.0, 3d]", {1, 4}),
    ("days not in [90, 120]", {2, 5}),
    ("vip in [true]", {1, 4}),
    ("tier in []", set()),
    ("tier not in []", {1, 2, 3, 4, 5}),
    ("true", {1, 2, 3, 4, 5}),
    ("false", set()),
    ("null and vip", set()),
    ("not null", set()),
    ("null or vip", {1, 4}),
    ("days + null > 1", set()),
    ("null is null and null is not null", set()),
]


@pytest.fixture
def loaded(store: Store) -> Iterator[Store]:
    metadata.create_all(store.engine)
    with store.begin() as conn:
        conn.execute(customers.insert(), ROWS)
    yield store


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_python_selects_the_expected_rows(text: str, expected: set[int]) -> None:
    expr = parse(text)
    assert {row["id"] for row in ROWS if evaluate(expr, row) is True} == expected


def test_sql_matches_python(loaded: Store) -> None:
    """Every case in one store (one schema per dialect keeps this fast); all mismatches listed."""
    mismatches: list[str] = []
    with loaded.begin() as conn:
        for text, _ in CASES:
            expr = parse(text)
            python = {row["id"]: evaluate(expr, row) for row in ROWS}
            pred = to_sql(expr, COLUMNS)
            truth = case((pred, 1), (not_(pred), 0), else_=None)
            matched = set(conn.scalars(select(customers.c.id).where(pred)))
            values = dict(conn.execute(select(customers.c.id, truth)).all())
            if matched != {i for i, v in python.items() if v is True}:
                mismatches.append(f"{text}: WHERE selects {sorted(matched)}, Python {python}")
            if values != {i: None if v is None else (1 if v else 0) for i, v in python.items()}:
                mismatches.append(f"{text}: SQL truth values {values}, Python {python}")
    assert mismatches == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("days / small", {1: 120 / 7, 2: 30 / -7, 3: None, 4: 90 / 100000, 5: None}),
        ("small % 3", {1: 1, 2: -1, 3: None, 4: 1, 5: 0}),
        ("risk * 3", {1: 2.25, 2: 0.6000000000000001, 3: None, 4: 1.7999999999999998, 5: 0.0}),
        ("12h + days", {1: 120.5, 2: 30.5, 3: None, 4: 90.5, 5: 0.5}),
        ("coalesce(tier, 'none')", {1: "vip", 2: "gold", 3: "none", 4: "VIP", 5: ""}),
    ],
)
def test_sql_values_match_python(loaded: Store, text: str, expected: dict[int, object]) -> None:
    expr = parse(text)
    assert {row["id"]: evaluate(expr, row) for row in ROWS} == expected
    with loaded.begin() as conn:
        got = dict(conn.execute(select(customers.c.id, to_sql(expr, COLUMNS))).all())
    assert got == expected


def test_literals_are_bound_parameters() -> None:
    expr = parse('tier == "x\'; DROP TABLE customers; --" and days > 12345 and risk < 0.125')
    dialects = [sqlite.dialect(), postgresql.psycopg.dialect()]  # type: ignore[no-untyped-call]
    for dialect in dialects:
        compiled = select(customers.c.id).where(to_sql(expr, COLUMNS)).compile(dialect=dialect)
        sql = str(compiled)
        assert "DROP" not in sql and "12345" not in sql and "0.125" not in sql
        assert set(compiled.params.values()) == {"x'; DROP TABLE customers; --", 12345, 0.125}


def test_unknown_names_and_functions_are_refused() -> None:
    with pytest.raises(ValueError, match="no column for feature 'nope'"):
        to_sql(parse("nope > 1"), COLUMNS)
    with pytest.raises(ValueError, match="unknown function 'sqrt'"):
        to_sql(parse("sqrt(days) > 1"), COLUMNS)
