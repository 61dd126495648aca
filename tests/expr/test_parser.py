"""Parsing: precedence, associativity, every construct, canonical printing, syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UserError
from core.expr import ExprSyntaxError, feature_names, parse
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

a, b, c, d = Name("a"), Name("b"), Name("c"), Name("d")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # or < and < not < comparison < + - < * / % < unary minus
        ("a or b and c", Logical("or", a, Logical("and", b, c))),
        ("a and b or c", Logical("or", Logical("and", a, b), c)),
        ("not a and b", Logical("and", Not(a), b)),
        ("not a == b", Not(Compare("==", a, b))),
        ("not not a", Not(Not(a))),
        ("a + b * c", Binary("+", a, Binary("*", b, c))),
        ("a * b + c", Binary("+", Binary("*", a, b), c)),
        ("a + b < c * d", Compare("<", Binary("+", a, b), Binary("*", c, d))),
        ("-a * b", Binary("*", Neg(a), b)),
        ("-(a * b)", Neg(Binary("*", a, b))),
        ("(a or b) and c", Logical("and", Logical("or", a, b), c)),
        # left associativity
        ("a - b - c", Binary("-", Binary("-", a, b), c)),
        ("a - (b - c)", Binary("-", a, Binary("-", b, c))),
        ("a / b % c", Binary("%", Binary("/", a, b), c)),
        ("a and b and c", Logical("and", Logical("and", a, b), c)),
        ("a or b or c", Logical("or", Logical("or", a, b), c)),
        # literals
        ("a == 90", Compare("==", a, Literal(90))),
        ("a == 0.6", Compare("==", a, Literal(0.6))),
        ("a == .5", Compare("==", a, Literal(0.5))),
        ("a == -3", Compare("==", a, Literal(-3))),
        ("a - -3", Binary("-", a, Literal(-3))),
        ('a == "vip"', Compare("==", a, Literal("vip"))),
        ("a == 'vip'", Compare("==", a, Literal("vip"))),
        ("a == 'it\\'s \\\"x\\\" \\\\ \\n\\t'", Compare("==", a, Literal('it\'s "x" \\ \n\t'))),
        ("a == true", Compare("==", a, Literal(True))),
        ("a == false", Compare("==", a, Literal(False))),
        ("a + null", Binary("+", a, Literal(None))),
        ("a >= 90d", Compare(">=", a, Duration(90, "d"))),
        ("a >= 12h", Compare(">=", a, Duration(12, "h"))),
        ("a >= 2w", Compare(">=", a, Duration(2, "w"))),
        ("a >= 30m", Compare(">=", a, Duration(30, "m"))),
        ("a >= 1.5d", Compare(">=", a, Duration(1.5, "d"))),
        ("a >= -1d", Compare(">=", a, Duration(-1, "d"))),
        # comparisons
        ("a != b", Compare("!=", a, b)),
        ("a <= b", Compare("<=", a, b)),
        ("a > b", Compare(">", a, b)),
        ("a in [1, 2.5, -3, 1d]", In(a, (Literal(1), Literal(2.5), Literal(-3), Duration(1, "d")))),
        ("a not in ['x', \"y\",]", In(a, (Literal("x"), Literal("y")), negated=True)),
        ("a in [true]", In(a, (Literal(True),))),
        ("a in []", In(a, ())),
        ("a is null", IsNull(a)),
        ("a is not null", IsNull(a, negated=True)),
        ("a + 1 is null", IsNull(Binary("+", a, Literal(1)))),
        ("(a < b) == c", Compare("==", Compare("<", a, b), c)),
        # functions
        ("max(a, b, 1)", Call("max", (a, b, Literal(1)))),
        ("abs(-a)", Call("abs", (Neg(a),))),
        ("coalesce(a, b > 1)", Call("coalesce", (a, Compare(">", b, Literal(1))))),
        ("f()", Call("f", ())),
        ("- -3", Neg(Literal(-3))),
        ("-(3)", Neg(Literal(3))),
    ],
)
def test_parse_tree(text: str, tree: object) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('tier == "vip" and days >= 90 and churn_risk >= 0.6', None),
        ("  tier=='vip'and(days>=90)  ", 'tier == "vip" and days >= 90'),
        ("((a))", "a"),
        ("(a and b) and c", "a and b and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("a or (b and c)", "a or b and c"),
        ("(a or b) and not (c or d)", "(a or b) and not (c or d)"),
        ("not (a == b)", "not a == b"),
        ("(a + b) * (c - d)", "(a + b) * (c - d)"),
        ("a - (b + c)", "a - (b + c)"),
        ("(a * b) / c", "a * b / c"),
        ("a / (b * c)", "a / (b * c)"),
        ("-(-a)", "-(-a)"),
        ("- - 3", "-(-3)"),
        ("-x * -2.50", "-x * -2.5"),
        ("a == 1.0", None),
        ("a == 0.000001", None),
        ("a == 123456789.125", None),
        ("a >= 90d and b < 12h and c > 1.5w", None),
        ("x in [ 1 ,2 ]", "x in [1, 2]"),
        ("x not in []", None),
        ("s == 'say \"hi\"\\n'", 's == "say \\"hi\\"\\n"'),
        ("(a is null) == (b is not null)", None),
        ("coalesce(a, 0) + max(b, c, 1) >= abs(d)", None),
        ("(a < b) == (not c)", None),
    ],
)
def test_canonical_text_round_trips(text: str, canonical: str | None) -> None:
    expr = parse(text)
    assert str(expr) == (canonical or text)
    assert parse(str(expr)) == expr


def test_columns_are_recorded_but_ignored_by_equality() -> None:
    expr = parse("tier == 'vip' and days >= 90")
    assert isinstance(expr, Logical)
    assert expr.column == 15
    assert isinstance(expr.left, Compare) and expr.left.column == 6
    assert expr.left.left.column == 1 and expr.left.right.column == 9
    assert isinstance(expr.right, Compare) and expr.right.left.column == 19
    assert parse("tier=='vip' and   days>=90") == expr


def test_negative_literal_column_is_the_minus_sign() -> None:
    expr = parse("x > - 3")
    assert isinstance(expr, Compare) and expr.right == Literal(-3) and expr.right.column == 5


def test_duration_values_are_days() -> None:
    assert Duration(90, "d").value == 90
    assert Duration(2, "w").value == 14
    assert Duration(12, "h").value == 0.5
    assert Duration(48, "h").value == 2 and isinstance(Duration(48, "h").value, int)
    assert Duration(30, "m").value == 30 / 1440
    assert Duration(1.5, "d").value == 1.5


def test_feature_names() -> None:
    expr = parse("a > 1 and (b is null or max(c, a) in [1]) and coalesce(d, 1) == 2")
    assert feature_names(expr) == {"a", "b", "c", "d"}
    assert feature_names(parse("true")) == set()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("days >= ", "syntax error at column 9: expected a value after '>='"),
        ("days >= and x", "syntax error at column 9: expected a value after '>='"),
        ("a and", "syntax error at column 6: expected a value after 'and'"),
        ("a or or b", "syntax error at column 6: expected a value after 'or'"),
        ("not", "syntax error at column 4: expected a value after 'not'"),
        ("a +", "syntax error at column 4: expected a value after '+'"),
        ("a * * b", "syntax error at column 5: expected a value after '*'"),
        ("", "syntax error at column 1: the condition is empty"),
        ("   ", "syntax error at column 4: the condition is empty"),
        (
            "1 < days < 5",
            "syntax error at column 10: comparisons cannot be chained:"
            " use 'and', as in 'x > 1 and x < 5'",
        ),
        (
            "a == b == c",
            "syntax error at column 8: comparisons cannot be chained:"
            " use 'and', as in 'x > 1 and x < 5'",
        ),
        (
            "a is null is null",
            "syntax error at column 11: comparisons cannot be chained:"
            " use 'and', as in 'x > 1 and x < 5'",
        ),
        ("a b", "syntax error at column 3: unexpected 'b' (missing 'and' or 'or'?)"),
        ("(a > 1", "syntax error at column 7: '(' at column 1 is never closed (missing ')')"),
        ("a > 1)", "syntax error at column 6: ')' has no matching '('"),
        ("()", "syntax error at column 2: expected a value inside '( )'"),
        (")", "syntax error at column 1: expected a value, found ')'"),
        ("tier = 'vip'", "syntax error at column 6: use '==' to compare, not '='"),
        ("a <> b", "syntax error at column 3: use '!=' for 'not equal', not '<>'"),
        ("a && b", "syntax error at column 3: use 'and', not '&&'"),
        ("a || b", "syntax error at column 3: use 'or', not '||'"),
        ("!a", "syntax error at column 1: use 'not', not '!'"),
        ("a $ b", "syntax error at column 3: unexpected character '$'"),
        ("a AND b", "syntax error at column 3: write 'and' in lower case, not 'AND'"),
        ("flag == True", "syntax error at column 9: write 'true' in lower case, not 'True'"),
        (
            "Tier == 'vip'",
            "syntax error at column 1: names are lower case: write 'tier', not 'Tier'",
        ),
        ("café > 1", "syntax error at column 1: names use only a-z, 0-9 and '_': 'café'"),
        (
            "days > 90days",
            "syntax error at column 10: unknown unit 'days' after 90"
            " (durations use w, d, h or m, as in 90d)",
        ),
        ("x > 1.", "syntax error at column 7: expected digits after the decimal point"),
        (
            "x > 99999999999999999",
            "syntax error at column 5: the number 99999999999999999 is too large",
        ),
        ("tier == 'vip", "syntax error at column 9: the string is never closed (missing ')"),
        (
            "tier == 'a\\qb'",
            "syntax error at column 11: unknown escape '\\q' in a string"
            " (use \\\\, \\', \\n or \\t)",
        ),
        (
            "x in 1",
            'syntax error at column 6: expected a list like [1, 2] or ["a", "b"] after \'in\'',
        ),
        (
            "x in [1, null]",
            "syntax error at column 10:"
            " a list cannot contain null (use 'is null' to test for null)",
        ),
        (
            "x in [y]",
            "syntax error at column 7: list items must be numbers, strings, true or false",
        ),
        ("x in [1 2]", "syntax error at column 9: expected ',' or ']' in the list"),
        ("x in [1, 2", "syntax error at column 11: the list is never closed (missing ']')"),
        (
            "x not [1]",
            "syntax error at column 7: expected 'in' after 'not' (as in: x not in [1, 2])",
        ),
        ("x is 5", "syntax error at column 6: expected 'null' after 'is'"),
        ("x is not 5", "syntax error at column 10: expected 'null' after 'is not'"),
        ("[1, 2]", "syntax error at column 1: a list is only allowed after 'in' or 'not in'"),
        ("a == not b", "syntax error at column 6: put 'not' in parentheses after '==': (not ...)"),
        ("max(a b)", "syntax error at column 7: expected ',' or ')' in the arguments of 'max'"),
        ("max(a,)", "syntax error at column 7: expected a value after ','"),
        ("max(a, b", "syntax error at column 9: '(' at column 4 is never closed (missing ')')"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ExprSyntaxError) as caught:
        parse(text)
    assert caught.value.message == message
    assert str(caught.value) == message
    assert caught.value.column == int(message.split("column ")[1].split(":")[0])
    assert isinstance(caught.value, UserError)


def test_nesting_is_limited() -> None:
    assert parse("(" * 49 + "a" + ")" * 49) == a
    with pytest.raises(ExprSyntaxError, match="nested too deeply"):
        parse("(" * 60 + "a" + ")" * 60)
    with pytest.raises(ExprSyntaxError, match="nested too deeply"):
        parse("not " * 60 + "a")


def test_length_is_limited() -> None:
    parse(" + ".join(["a"] * 126) + " > 1")
    with pytest.raises(ExprSyntaxError) as caught:
        parse(" + ".join(["a"] * 200) + " > 1")
    assert caught.value.message == (
        "syntax error at column 513: the condition is too long (over 256 words and symbols);"
        " split it across rules or compute a feature"
    )


def test_documented_examples_parse() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "expressions.md").read_text(encoding="utf-8")
    block = doc.split("## Examples", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    examples = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(examples) >= 8
    for example in examples:
        assert str(parse(str(parse(example)))) == str(parse(example))
