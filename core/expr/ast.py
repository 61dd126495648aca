"""The syntax tree of rule conditions.

Every node is a frozen dataclass that remembers the 1-based ``column`` of the source text
it came from (operators: the operator's column; everything else: where it starts). The
column is ignored by ``==`` so that trees parsed from differently spaced text compare
equal. ``str(node)`` prints canonical source text with the fewest parentheses that keep
the tree's shape, so ``parse(str(node)) == node``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

# Precedence levels, low to high; atoms (literals, names, calls, lists) bind tightest.
OR, AND, NOT, COMPARE, ADD, MUL, NEG, ATOM = range(1, 9)

BINARY_LEVEL = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "%": MUL}
COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
ORDERING_OPS = ("<", "<=", ">", ">=")
DURATION_DAYS = {"w": Fraction(7), "d": Fraction(1), "h": Fraction(1, 24), "m": Fraction(1, 1440)}

Value = int | float | str | bool | None


@dataclass(frozen=True)
class Expr:
    """Base of every node."""

    column: int = field(default=0, compare=False, kw_only=True)

    @property
    def level(self) -> int:
        return ATOM


def format_number(value: int | float) -> str:
    """Canonical text of a number: integers plainly, reals with a point and no exponent."""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def format_string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )
    return f'"{escaped}"'


def format_value(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return format_string(value)
    return format_number(value)


@dataclass(frozen=True)
class Literal(Expr):
    """A number, string, ``true``, ``false`` or ``null``."""

    value: Value

    def __str__(self) -> str:
        return format_value(self.value)


@dataclass(frozen=True)
class Duration(Expr):
    """``90d``, ``12h``, ``2w``, ``30m``: a number of days."""

    amount: int | float
    unit: str

    @property
    def value(self) -> int | float:
        days = Fraction(self.amount) * DURATION_DAYS[self.unit]
        return int(days) if days.denominator == 1 else float(days)

    def __str__(self) -> str:
        return f"{format_number(self.amount)}{self.unit}"


@dataclass(frozen=True)
class Name(Expr):
    """A feature, looked up in the row (Python) or the columns mapping (SQL)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Call(Expr):
    """``min(a, b)``, ``max(...)``, ``abs(x)``, ``coalesce(...)``."""

    name: str
    args: tuple[Expr, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(str(a) for a in self.args)})"


@dataclass(frozen=True)
class Neg(Expr):
    """Unary minus of a non-literal (``-3`` is a Literal)."""

    operand: Expr

    @property
    def level(self) -> int:
        return NEG

    def __str__(self) -> str:
        if isinstance(self.operand, Name | Call):
            return f"-{self.operand}"
        return f"-({self.operand})"


@dataclass(frozen=True)
class Binary(Expr):
    """Arithmetic: ``+ - * / %``."""

    op: str
    left: Expr
    right: Expr

    @property
    def level(self) -> int:
        return BINARY_LEVEL[self.op]

    def __str__(self) -> str:
        return f"{_wrap(self.left, self.level)} {self.op} {_wrap(self.right, self.level + 1)}"


@dataclass(frozen=True)
class Compare(Expr):
    """``== != < <= > >=`` (never chained)."""

    op: str
    left: Expr
    right: Expr

    @property
    def level(self) -> int:
        return COMPARE

    def __str__(self) -> str:
        return f"{_wrap(self.left, ADD)} {self.op} {_wrap(self.right, ADD)}"


@dataclass(frozen=True)
class In(Expr):
    """``x in [..]`` / ``x not in [..]`` over a list of literals."""

    operand: Expr
    items: tuple[Literal | Duration, ...]
    negated: bool = False

    @property
    def level(self) -> int:
        return COMPARE

    def __str__(self) -> str:
        op = "not in" if self.negated else "in"
        items = ", ".join(str(i) for i in self.items)
        return f"{_wrap(self.operand, ADD)} {op} [{items}]"


@dataclass(frozen=True)
class IsNull(Expr):
    """``x is null`` / ``x is not null``: never null itself."""

    operand: Expr
    negated: bool = False

    @property
    def level(self) -> int:
        return COMPARE

    def __str__(self) -> str:
        return f"{_wrap(self.operand, ADD)} is {'not null' if self.negated else 'null'}"


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr

    @property
    def level(self) -> int:
        return NOT

    def __str__(self) -> str:
        return f"not {_wrap(self.operand, NOT)}"


@dataclass(frozen=True)
class Logical(Expr):
    """``and`` / ``or`` (left-associative, Kleene three-valued logic)."""

    op: str
    left: Expr
    right: Expr

    @property
    def level(self) -> int:
        return AND if self.op == "and" else OR

    def __str__(self) -> str:
        return f"{_wrap(self.left, self.level)} {self.op} {_wrap(self.right, self.level + 1)}"


def _wrap(node: Expr, minimum: int) -> str:
    """The node's text, parenthesised when it binds more loosely than ``minimum``."""
    text = str(node)
    if node.level < minimum:
        return f"({text})"
    return text


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node, in source order (list items excluded)."""
    if isinstance(node, Binary | Compare | Logical):
        return (node.left, node.right)
    if isinstance(node, Neg | Not | In | IsNull):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Expr) -> list[Expr]:
    """Every node of the tree, parents before children."""
    out = [node]
    for child in children(node):
        out.extend(walk(child))
    return out


def feature_names(expr: Expr) -> set[str]:
    """The names of every feature the expression reads."""
    return {n.name for n in walk(expr) if isinstance(n, Name)}
