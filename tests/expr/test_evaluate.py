"""The Python evaluator and the trace, NULL cases included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.expr import TraceNode, evaluate, parse, trace

ROW: dict[str, object] = {
    "tier": "vip",
    "days": 120,
    "risk": 0.75,
    "flag": True,
    "off": False,
    "none": None,
    "zero": 0,
    "neg": -7,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('tier == "vip" and days >= 90 and risk >= 0.6', True),
        ("tier == 'VIP'", False),
        ("days >= 90d", True),
        ("days > 17w", True),
        ("days >= 121d", False),
        ("12h == 0.5", True),
        ("30m * 48 == 1", True),
        ("1.5d == 36h", True),
        # arithmetic
        ("days + 1", 121),
        ("days - risk", 119.25),
        ("days * 2", 240),
        ("days / 7", 120 / 7),
        ("7 / 2", 3.5),
        ("-7 / 2", -3.5),
        ("days / zero", None),
        ("days / 0.0", None),
        ("neg % 3", -1),
        ("7 % -3", 1),
        ("7.9 % 3", 1),
        ("-7.9 % 3.5", -1),
        ("days % zero", None),
        ("days % 0.5", None),
        ("-days", -120),
        ("-(days - 200)", 80),
        ("1 == 1.0", True),
        ("2 > 1.5", True),
        # functions
        ("abs(neg)", 7),
        ("min(days, 90, risk)", 0.75),
        ("max(days, 90, risk)", 120),
        ("coalesce(none, days, 1)", 120),
        ("coalesce(none, none)", None),
        ("min(days, none)", None),
        ("max(none, 1)", None),
        ("abs(none)", None),
        # NULL propagation
        ("none + 1", None),
        ("-none", None),
        ("none == 1", None),
        ("none != 1", None),
        ("none < 1", None),
        ("none == none", None),
        ("none is null", True),
        ("none is not null", False),
        ("days is null", False),
        ("(none > 1) is null", True),
        ("missing is null", True),
        # Kleene logic
        ("off and none > 1", False),
        ("none > 1 and off", False),
        ("flag and none > 1", None),
        ("flag or none > 1", True),
        ("none > 1 or flag", True),
        ("off or none > 1", None),
        ("not (none > 1)", None),
        ("not flag", False),
        ("not off", True),
        ("flag", True),
        ("flag == true", True),
        ("off == false", True),
        ("flag != off", True),
        # membership
        ("tier in ['gold', 'vip']", True),
        ("tier not in ['gold', 'vip']", False),
        ("tier in ['gold']", False),
        ("days in [119, 120.0]", True),
        ("none in [1, 2]", None),
        ("none not in [1, 2]", None),
        ("none in []", False),
        ("none not in []", True),
        ("days in []", False),
        ("flag in [true]", True),
    ],
)
def test_evaluate(text: str, expected: object) -> None:
    result = evaluate(parse(text), ROW)
    assert result == expected
    assert type(result) is type(expected) or isinstance(expected, int | float)


def test_booleans_stored_as_numbers_work_in_logic() -> None:
    row = {"flag": 1, "off": 0}
    assert evaluate(parse("flag and not off"), row) is True
    assert evaluate(parse("flag == true and off == false"), row) is True
    assert evaluate(parse("off or flag"), row) is True


def test_decimal_features_read_as_reals() -> None:
    row = {"amount": Decimal("12.5")}
    assert evaluate(parse("amount / 5"), row) == 2.5
    assert evaluate(parse("amount > 12"), row) is True


def test_a_rule_matches_only_when_true() -> None:
    expr = parse("risk >= 0.6")
    assert evaluate(expr, {"risk": 0.7}) is True
    assert evaluate(expr, {"risk": 0.5}) is False
    assert evaluate(expr, {"risk": None}) is None


def test_trace_shows_every_sub_expression() -> None:
    node = trace(parse("tier == 'vip' and (days >= 90d or none > 1)"), ROW)
    assert node == TraceNode(
        'tier == "vip" and (days >= 90d or none > 1)',
        True,
        [
            TraceNode('tier == "vip"', True, [TraceNode("tier", "vip"), TraceNode('"vip"', "vip")]),
            TraceNode(
                "days >= 90d or none > 1",
                True,
                [
                    TraceNode("days >= 90d", True, [TraceNode("days", 120), TraceNode("90d", 90)]),
                    TraceNode("none > 1", None, [TraceNode("none", None), TraceNode("1", 1)]),
                ],
            ),
        ],
    )


def test_trace_agrees_with_evaluate_and_renders() -> None:
    expr = parse("max(days, 1) / 4 > risk and tier in ['vip'] and none is null")
    node = trace(expr, ROW)
    assert node.value == evaluate(expr, ROW) is True
    assert node.render().splitlines() == [
        'max(days, 1) / 4 > risk and tier in ["vip"] and none is null → true',
        '  max(days, 1) / 4 > risk and tier in ["vip"] → true',
        "    max(days, 1) / 4 > risk → true",
        "      max(days, 1) / 4 → 30.0",
        "        max(days, 1) → 120",
        "          days → 120",
        "          1 → 1",
        "        4 → 4",
        "      risk → 0.75",
        '    tier in ["vip"] → true',
        '      tier → "vip"',
        "  none is null → true",
        "    none → null",
    ]
