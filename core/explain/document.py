"""`patron explain --json`: the same facts as the text, as one JSON document.

Keys (stable): ``as_of`` (epoch seconds) and ``as_of_local``; ``customer``; ``features``
(name → value); ``rules`` (list: ``id``, ``where``, ``description``, ``enabled``,
``due``, ``schedule``, ``once_per``, ``matched``, ``outcome`` — one of ``fired``,
``already_fired``, ``would_fire``, ``not_due``, ``not_matched``, ``disabled`` —
``detail``, ``condition`` (tree: ``text``, ``value``, ``parts``) and ``firings``);
``journeys``; ``other_messages``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from zoneinfo import ZoneInfo

from core.explain.model import Explanation
from core.expr.trace import TraceNode
from core.timeparse import show_instant


def as_document(found: Explanation) -> dict[str, Any]:
    return {
        "as_of": found.as_of,
        "as_of_local": show_instant(found.as_of, ZoneInfo(found.timezone)),
        "customer": found.customer,
        "features": found.features,
        "rules": [
            {
                "id": v.rule_id,
                "where": v.where,
                "description": v.description,
                "enabled": v.enabled,
                "due": v.due,
                "schedule": v.schedule,
                "once_per": v.once_per,
                "matched": v.matched,
                "outcome": v.outcome,
                "detail": v.detail,
                "condition": _tree(v.condition),
                "firings": [dataclasses.asdict(row) for row in v.firings],
            }
            for v in found.rules
        ],
        "journeys": [dataclasses.asdict(j) for j in found.journeys],
        "other_messages": [dataclasses.asdict(row) for row in found.other_messages],
    }


def _tree(node: TraceNode) -> dict[str, Any]:
    return {"text": node.text, "value": node.value, "parts": [_tree(c) for c in node.children]}


def render_json(found: Explanation) -> str:
    return json.dumps(as_document(found), ensure_ascii=False, indent=2, default=str)
