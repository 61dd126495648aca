"""The outcome of one import: counts, rejected rows and timing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ImportProblems, Problem

MAX_STORED_PROBLEMS = 1000


@dataclass
class ImportReport:
    """What an import did.

    ``rows_read`` counts every data row (good or bad). ``inserted`` and ``updated``
    count rows written; ``duplicates`` counts rows already in the store (an event
    whose source key exists). ``rejected`` keeps the first
    :data:`MAX_STORED_PROBLEMS` bad rows; ``rejected_count`` counts all of them.
    """

    path: Path
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[Problem] = field(default_factory=list)
    rejected_count: int = 0
    elapsed: float = 0.0
    customers_created: int = 0

    def reject(self, line: int | None, message: str) -> None:
        """Record one bad row (stored up to the cap, always counted)."""
        self.rejected_count += 1
        if len(self.rejected) < MAX_STORED_PROBLEMS:
            self.rejected.append(Problem(str(self.path), line, message))

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line for the operator, e.g. ``events.csv: 10 rows read, 8 inserted, ...``."""
        parts = [f"{self.rows_read} rows read", f"{self.inserted} inserted"]
        if self.updated:
            parts.append(f"{self.updated} updated")
        parts.append(f"{self.duplicates} already present")
        if self.customers_created:
            parts.append(f"{self.customers_created} customers created")
        parts.append(f"{self.rejected_count} rejected")
        return f"{self.path}: {', '.join(parts)} in {self.elapsed:.1f}s"

    def raise_if_rejected(self) -> None:
        """Raise :class:`ImportProblems` listing the rejected rows, if there were any."""
        if not self.rejected_count:
            return
        problems = list(self.rejected)
        hidden = self.rejected_count - len(problems)
        if hidden:
            problems.append(Problem(str(self.path), None, f"... and {hidden} more rejected rows"))
        raise ImportProblems(
            problems,
            summary=f"{self.rejected_count} row(s) rejected; the other rows were imported "
            f"({self.summary()})",
        )
