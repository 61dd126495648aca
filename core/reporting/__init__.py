"""`patron report`: what the rules did over a period, in a terminal, as JSON or as HTML."""

from core.reporting.query import Report, RuleChannel, build_report
from core.reporting.render import render_html, render_json, render_text

__all__ = ["Report", "RuleChannel", "build_report", "render_html", "render_json", "render_text"]
