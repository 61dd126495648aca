"""Every sub-expression of a condition with its value, for ``patron explain``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.expr.ast import Expr, Name, children, format_value
from core.expr.evaluate import apply, lookup


@dataclass
class TraceNode:
    """One sub-expression: its canonical text, its value (None is NULL) and its parts."""

    text: str
    value: object
    children: list[TraceNode] = field(default_factory=list)

    def render(self, indent: str = "  ") -> str:
        """An indented outline, one sub-expression a line: ``text → value``."""
        lines: list[str] = []
        self._render(lines, 0, indent)
        return "\n".join(lines)

    def _render(self, lines: list[str], depth: int, indent: str) -> None:
        lines.append(f"{indent * depth}{self.text} → {show(self.value)}")
        for child in self.children:
            child._render(lines, depth + 1, indent)


def show(value: object) -> str:
    """A value as the expression language writes it (``null``, ``true``, ``"vip"``, ``0.5``)."""
    if value is None or isinstance(value, bool | int | float | str):
        return format_value(value)
    return repr(value)


def trace(expr: Expr, row: Mapping[str, object]) -> TraceNode:
    """Evaluate ``expr`` like :func:`core.expr.evaluate.evaluate`, keeping every step."""
    if isinstance(expr, Name):
        return TraceNode(str(expr), lookup(row, expr.name))
    parts = [trace(child, row) for child in children(expr)]
    return TraceNode(str(expr), apply(expr, [p.value for p in parts]), parts)
