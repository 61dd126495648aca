"""``EXISTS`` tests that an index can answer alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Exists, literal, select


def probe(*where: Any) -> Exists:
    """``EXISTS (SELECT 1 FROM … WHERE …)``, the tables taken from ``where``.

    SQLAlchemy's ``exists().where(…)`` renders ``SELECT *``, and SQLite (3.40) then
    fetches each row the index finds even when the index holds every column the test
    reads. The already-fired test of a second cycle at 1M customers read 644,000
    ledger rows that way.
    """
    return select(literal(1)).where(*where).exists()


__all__ = ["probe"]
