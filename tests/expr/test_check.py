"""Type checking: every problem an operator can meet, with its exact wording."""

from __future__ import annotations

import pytest

from core.expr import ExprProblem, check, parse
from core.vocabulary import FeatureType

N, S, B = FeatureType.NUMBER, FeatureType.STRING, FeatureType.BOOLEAN
FEATURES = {
    "tier": S,
    "name": S,
    "days_since_last_purchase": N,
    "churn_risk": N,
    "orders": N,
    "is_vip": B,
    "opted_in": B,
}


@pytest.mark.parametrize(
    "text",
    [
        'tier == "vip" and days_since_last_purchase >= 90 and churn_risk >= 0.6',
        "days_since_last_purchase >= 90d or days_since_last_purchase < 12h",
        "is_vip",
        "not is_vip",
        "is_vip == true and opted_in != false",
        "is_vip == (orders > 3)",
        "tier in ['vip', 'gold'] and orders not in [1, 2.5, 3d]",
        "tier in []",
        "is_vip in [true]",
        "tier is null or orders is not null or null is null",
        "coalesce(tier, 'none') == 'none'",
        "coalesce(null, orders, 0) > 1",
        "coalesce(is_vip, false)",
        "max(orders, churn_risk, 1) >= min(2, abs(-orders)) % 3 / 2",
        "orders + null > 1",
        "not null",
        "true",
        "null and is_vip",
        "-(orders * 2) < -1",
    ],
)
def test_well_typed(text: str) -> None:
    assert check(parse(text), FEATURES) == []


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ('tierr == "vip"', ["unknown feature 'tierr' (did you mean 'tier'?)"]),
        ("zzz > 1", ["unknown feature 'zzz'"]),
        ("tier > 3", ["cannot compare string 'tier' with number 3 using '>'"]),
        ("3 <= tier", ["cannot compare number 3 with string 'tier' using '<='"]),
        ("tier == 3", ["cannot compare string 'tier' with number 3 using '=='"]),
        ("is_vip != 'yes'", ["cannot compare boolean 'is_vip' with string \"yes\" using '!='"]),
        ("orders == true", ["cannot compare number 'orders' with boolean true using '=='"]),
        (
            "orders + 1 == tier",
            ["cannot compare number 'orders + 1' with string 'tier' using '=='"],
        ),
        ("orders == 2d or 1 == '1'", ["cannot compare number 1 with string \"1\" using '=='"]),
        ("name < 'm'", ["'<' needs numbers, not string 'name' (only numbers can be ordered)"]),
        ("'a' >= name", ["'>=' needs numbers, not string \"a\" (only numbers can be ordered)"]),
        (
            "is_vip > opted_in",
            ["'>' needs numbers, not boolean 'is_vip' (only numbers can be ordered)"],
        ),
        ("tier == null", ["comparing with null using '==' is never true: write 'tier is null'"]),
        (
            "null != orders + 1",
            ["comparing with null using '!=' is never true: write 'orders + 1 is not null'"],
        ),
        ("orders > null", ["comparing with null using '>' is never true"]),
        ("tier + 1 > 2", ["'+' needs numbers, not string 'tier'"]),
        (
            "tier * name > 2",
            ["'*' needs numbers, not string 'tier'", "'*' needs numbers, not string 'name'"],
        ),
        ("-tier > 1", ["'-' needs a number, not string 'tier'"]),
        ("orders / true > 1", ["'/' needs numbers, not boolean true"]),
        ("orders and is_vip", ["'and' needs true or false, not number 'orders'"]),
        ("is_vip or 'x'", ["'or' needs true or false, not string \"x\""]),
        ("not tier", ["'not' needs true or false, not string 'tier'"]),
        (
            "orders in [1, 'two', 3]",
            ["cannot compare number 'orders' with string \"two\" using 'in'"],
        ),
        ("tier not in [1]", ["cannot compare string 'tier' with number 1 using 'not in'"]),
        ("is_vip in [1]", ["cannot compare boolean 'is_vip' with number 1 using 'in'"]),
        ("maxx(orders, 1) > 2", ["unknown function 'maxx' (did you mean 'max'?)"]),
        ("sqrt(orders) > 2", ["unknown function 'sqrt'"]),
        ("abs(orders, 1) > 2", ["abs() takes 1 argument, got 2"]),
        ("abs() > 2", ["abs() takes 1 argument, got 0"]),
        ("max(orders) > 2", ["max() takes at least 2 arguments, got 1"]),
        ("coalesce(tier) == 'a'", ["coalesce() takes at least 2 arguments, got 1"]),
        ("min(tier, 1) > 2", ["min() needs numbers, not string 'tier'"]),
        ("abs(is_vip) > 2", ["abs() needs numbers, not boolean 'is_vip'"]),
        ("coalesce(tier, 0) == 'a'", ["coalesce() cannot mix string 'tier' with number 0"]),
        (
            "coalesce(null, orders, 'x') > 1",
            ["coalesce() cannot mix number 'orders' with string \"x\""],
        ),
        ("orders", ["the condition must be true or false, but this is a number"]),
        (
            "days_since_last_purchase - 90",
            ["the condition must be true or false, but this is a number"],
        ),
        ("coalesce(tier, 'x')", ["the condition must be true or false, but this is a string"]),
        ("null", ["the condition must be true or false, but this is null"]),
    ],
)
def test_problems(text: str, messages: list[str]) -> None:
    assert [p.message for p in check(parse(text), FEATURES)] == messages


def test_every_problem_is_reported_with_its_column() -> None:
    text = "tierr == 'vip' and orders > 'x' and maxx(orders, 1) > 2 and orders"
    assert check(parse(text), FEATURES) == [
        ExprProblem("unknown feature 'tierr' (did you mean 'tier'?)", 1),
        ExprProblem("cannot compare number 'orders' with string \"x\" using '>'", 27),
        ExprProblem("unknown function 'maxx' (did you mean 'max'?)", 37),
        ExprProblem("'and' needs true or false, not number 'orders'", 57),
    ]


def test_unknown_names_do_not_cascade() -> None:
    # The comparison and the 'and' stay quiet about the sub-expression already reported.
    assert [p.message for p in check(parse("tierr > 3 and not bogus"), FEATURES)] == [
        "unknown feature 'tierr' (did you mean 'tier'?)",
        "unknown feature 'bogus'",
    ]


def test_condition_type_problem_points_at_its_start() -> None:
    assert check(parse("  orders + 1"), FEATURES) == [
        ExprProblem("the condition must be true or false, but this is a number", 3)
    ]


def test_problems_are_frozen() -> None:
    problem = ExprProblem("x", 1)
    with pytest.raises(AttributeError):
        problem.message = "y"  # type: ignore[misc]
