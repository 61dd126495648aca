"""`patron explain`: why a customer did or did not get a message."""

from core.explain.document import as_document, render_json
from core.explain.gather import explain
from core.explain.model import OUTCOMES, Explanation, RuleVerdict
from core.explain.text import render_text

__all__ = [
    "OUTCOMES",
    "Explanation",
    "RuleVerdict",
    "as_document",
    "explain",
    "render_json",
    "render_text",
]
