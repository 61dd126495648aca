"""Deterministic message identity and the retry schedule."""

from __future__ import annotations

import hashlib
import random

BACKOFF_BASE = 30  # seconds before the first retry (± jitter)
BACKOFF_CAP = 3600


def message_id(idempotency_key: str) -> str:
    """``<first 32 hex digits of sha256(key)@patron>``: the same for every attempt.

    A receiver that sees the same Message-ID twice (a re-send after a crash between
    sending and recording) can drop the repeat.
    """
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@patron>"


def backoff_seconds(attempt: int, rng: random.Random) -> int:
    """Delay before retry number ``attempt`` (1, 2 ...): 30 s doubling, at most 1 h, jittered.

    "Equal jitter": half the delay is fixed, half random, so retries spread out but never
    come back immediately.
    """
    ceiling: int = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, min(attempt, 32) - 1))
    return max(1, round(ceiling / 2 + rng.uniform(0, ceiling / 2)))


__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "backoff_seconds", "message_id"]
