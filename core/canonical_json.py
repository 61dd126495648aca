"""The one JSON text of a mapping: keys sorted, no spaces, non-ASCII kept.

Two equal mappings get the same text whatever their key order, so the text can be
compared, digested and stored as a key: an imported event's payload (part of its
content key) and a ledger row's shared action arguments (interned by digest).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


__all__ = ["canonical_json"]
