"""Recursive-descent parser: condition text to :class:`~core.expr.ast.Expr`.

Grammar, loosest binding first::

    condition  := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum [ ("=="|"!="|"<"|"<="|">"|">=") sum
                      | ["not"] "in" list | "is" ["not"] "null" ]
    sum        := product (("+"|"-") product)*
    product    := unary (("*"|"/"|"%") unary)*
    unary      := "-" unary | atom
    atom       := number | duration | string | "true" | "false" | "null"
                | name | name "(" [condition ("," condition)*] ")" | "(" condition ")"
    list       := "[" [item ("," item)* [","]] "]"
    item       := ["-"] number | ["-"] duration | string | "true" | "false"
"""

from __future__ import annotations

from dataclasses import replace

from core.expr.ast import (
    COMPARE_OPS,
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
from core.expr.lexer import ExprSyntaxError, Token, tokenize

MAX_TOKENS = 256  # keeps every tree shallow enough for recursive compilers and evaluators
MAX_NESTING = 50
_CONSTANTS: dict[str, bool | None] = {"true": True, "false": False, "null": None}
_CONTINUATIONS = (*COMPARE_OPS, "in", "is", "not")


def parse(text: str) -> Expr:
    """Parse a condition; raises :class:`ExprSyntaxError` with a helpful message."""
    tokens = tokenize(text)
    if len(tokens) > MAX_TOKENS:
        raise ExprSyntaxError(
            f"the condition is too long (over {MAX_TOKENS} words and symbols);"
            " split it across rules or compute a feature",
            tokens[MAX_TOKENS].column,
        )
    parser = _Parser(tokens)
    if parser.peek.kind == "end":
        raise ExprSyntaxError("the condition is empty", parser.peek.column)
    expr = parser.or_expr()
    parser.expect_end()
    return expr


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(
                f"the condition is nested too deeply (over {MAX_NESTING} levels)", token
            )

    @property
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def at(self, *texts: str) -> bool:
        tok = self.peek
        return tok.kind in ("op", "keyword") and tok.text in texts

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def fail(self, detail: str, token: Token | None = None) -> ExprSyntaxError:
        return ExprSyntaxError(detail, (token or self.peek).column)

    def expect_end(self) -> None:
        tok = self.peek
        if tok.kind == "end":
            return
        if tok.text == ")":
            raise self.fail("')' has no matching '('")
        if tok.text in _CONTINUATIONS:
            raise self.fail("comparisons cannot be chained: use 'and', as in 'x > 1 and x < 5'")
        raise self.fail(f"unexpected {tok.describe()} (missing 'and' or 'or'?)")

    def operand(self, after: Token) -> None:
        """Fail unless the next token can start a value (for a clear message)."""
        tok = self.peek
        if tok.kind == "op":
            starts = tok.text in ("(", "-")
        elif tok.kind == "keyword":
            starts = tok.text in ("not", "true", "false", "null")
        else:
            starts = tok.kind != "end"
        if not starts:
            raise self.fail(f"expected a value after '{after.text}'")

    def or_expr(self) -> Expr:
        self.nest(self.peek)
        left = self.and_expr()
        while self.at("or"):
            op = self.advance()
            self.operand(op)
            left = Logical("or", left, self.and_expr(), column=op.column)
        self.depth -= 1
        return left

    def and_expr(self) -> Expr:
        left = self.not_expr()
        while self.at("and"):
            op = self.advance()
            self.operand(op)
            left = Logical("and", left, self.not_expr(), column=op.column)
        return left

    def not_expr(self) -> Expr:
        if self.at("not"):
            op = self.advance()
            self.operand(op)
            self.nest(op)
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand, column=op.column)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.sum()
        if self.at(*COMPARE_OPS):
            op = self.advance()
            self.operand(op)
            if self.at("not"):
                raise self.fail(f"put 'not' in parentheses after '{op.text}': (not ...)")
            return Compare(op.text, left, self.sum(), column=op.column)
        if self.at("is"):
            op = self.advance()
            negated = self.at("not")
            if negated:
                self.advance()
            if not self.at("null"):
                raise self.fail(f"expected 'null' after '{'is not' if negated else 'is'}'")
            self.advance()
            return IsNull(left, negated, column=op.column)
        if self.at("not"):
            op = self.advance()
            if not self.at("in"):
                raise self.fail("expected 'in' after 'not' (as in: x not in [1, 2])")
            self.advance()
            return In(left, self.items(), negated=True, column=op.column)
        if self.at("in"):
            op = self.advance()
            return In(left, self.items(), column=op.column)
        return left

    def items(self) -> tuple[Literal | Duration, ...]:
        if not self.at("["):
            raise self.fail('expected a list like [1, 2] or ["a", "b"] after \'in\'')
        self.advance()
        items: list[Literal | Duration] = []
        while not self.at("]"):
            items.append(self.item())
            if self.at(","):
                self.advance()
            elif self.peek.kind == "end":
                raise self.fail("the list is never closed (missing ']')")
            elif not self.at("]"):
                raise self.fail("expected ',' or ']' in the list")
        self.advance()
        return tuple(items)

    def item(self) -> Literal | Duration:
        tok = self.peek
        if self.at("null"):
            raise self.fail("a list cannot contain null (use 'is null' to test for null)")
        if tok.kind == "end":
            raise self.fail("the list is never closed (missing ']')")
        node = self.literal() if tok.kind != "name" and not self.at("(") else None
        if node is None:
            raise self.fail("list items must be numbers, strings, true or false")
        return node

    def literal(self) -> Literal | Duration | None:
        """A literal value (with an optional leading minus), or None if there is none."""
        start = self.pos
        minus = self.advance() if self.at("-") else None
        tok = self.peek
        node: Literal | Duration | None = None
        if tok.kind == "number" and isinstance(tok.value, int | float):
            value = -tok.value if minus else tok.value
            node = Literal(value, column=tok.column)
        elif tok.kind == "duration" and isinstance(tok.value, int | float):
            node = Duration(-tok.value if minus else tok.value, tok.unit, column=tok.column)
        elif minus is None and tok.kind == "string":
            node = Literal(tok.value, column=tok.column)
        elif minus is None and tok.kind == "keyword" and tok.text in ("true", "false"):
            node = Literal(_CONSTANTS[tok.text], column=tok.column)
        if node is None:
            self.pos = start
            return None
        self.advance()
        return replace(node, column=minus.column) if minus is not None else node

    def sum(self) -> Expr:
        left = self.product()
        while self.at("+", "-"):
            op = self.advance()
            self.operand(op)
            left = Binary(op.text, left, self.product(), column=op.column)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.at("*", "/", "%"):
            op = self.advance()
            self.operand(op)
            left = Binary(op.text, left, self.unary(), column=op.column)
        return left

    def unary(self) -> Expr:
        if self.at("-"):
            literal = self.literal()
            if literal is not None:
                return literal
            op = self.advance()
            self.operand(op)
            if self.at("not"):
                raise self.fail("put 'not' in parentheses after '-': -(not ...)")
            self.nest(op)
            operand = self.unary()
            self.depth -= 1
            return Neg(operand, column=op.column)
        return self.atom()

    def atom(self) -> Expr:
        tok = self.peek
        if tok.kind == "name":
            self.advance()
            if self.at("("):
                return self.call(tok)
            return Name(tok.text, column=tok.column)
        if self.at("null"):
            self.advance()
            return Literal(None, column=tok.column)
        literal = self.literal()
        if literal is not None:
            return literal
        if self.at("("):
            self.advance()
            if self.at(")"):
                raise self.fail("expected a value inside '( )'")
            inner = self.or_expr()
            if not self.at(")"):
                if self.peek.kind == "end":
                    raise self.fail(f"'(' at column {tok.column} is never closed (missing ')')")
                self.expect_end()  # raises the most helpful message
            self.advance()
            return inner
        if self.at("["):
            raise self.fail("a list is only allowed after 'in' or 'not in'")
        if tok.kind == "end":
            raise self.fail("the condition ends too early: expected a value")
        raise self.fail(f"expected a value, found {tok.describe()}")

    def call(self, name: Token) -> Expr:
        opening = self.advance()
        args: list[Expr] = []
        while not self.at(")"):
            if self.peek.kind == "end":
                raise self.fail(f"'(' at column {opening.column} is never closed (missing ')')")
            args.append(self.or_expr())
            if self.at(","):
                comma = self.advance()
                self.operand(comma)
            elif self.peek.kind == "end":
                raise self.fail(f"'(' at column {opening.column} is never closed (missing ')')")
            elif not self.at(")"):
                raise self.fail(f"expected ',' or ')' in the arguments of '{name.text}'")
        self.advance()
        return Call(name.text, tuple(args), column=name.column)
