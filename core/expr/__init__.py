"""The expression language of rule conditions (``when:``).

One parsed AST, two evaluators that must agree:

- :func:`to_sql` compiles it to a SQLAlchemy boolean expression for the set-based cycle;
- :func:`evaluate` interprets it in Python for ``explain``, rule tests and previews.

Typical use::

    expr = parse('tier == "vip" and days_since_last_purchase >= 90d')
    problems = check(expr, {"tier": FeatureType.STRING, "days_since_last_purchase": ...})
    columns = {c.name: c for c in features.c}
    query = select(features.c.customer_id).where(to_sql(expr, columns))
    evaluate(expr, {"tier": "vip", "days_since_last_purchase": 120}) is True

The language itself is documented for operators in ``docs/expressions.md``.
"""

from core.expr.ast import Expr, feature_names
from core.expr.evaluate import evaluate
from core.expr.lexer import ExprSyntaxError
from core.expr.parser import parse
from core.expr.to_sql import to_sql
from core.expr.trace import TraceNode, trace
from core.expr.typecheck import ExprProblem, check

__all__ = [
    "Expr",
    "ExprProblem",
    "ExprSyntaxError",
    "TraceNode",
    "check",
    "evaluate",
    "feature_names",
    "parse",
    "to_sql",
    "trace",
]
