"""The benchmark's events in time order, as exports and daily feeds deliver them.

The generator writes each customer's history in one go, so an imported store holds
one customer's events side by side. Real feeds arrive by time, and a customer's
events then lie all over the table: a query that reads an event's row after finding
it in a per-customer index pays a random read for it. ``bench/cycle.py --order time``
imports this file instead, to measure that store.

An external merge sort: runs of ``chunk_rows`` rows sorted in memory and written to
temporary files, then merged, so memory stays bounded at ten million rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

CHUNK_ROWS = 250_000


def _instant(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def write_in_time_order(source: Path, target: Path, chunk_rows: int = CHUNK_ROWS) -> int:
    """Write ``source``'s rows (a CSV with an ``occurred_at`` column) to ``target`` by
    instant, rows of the same instant in their order in ``source``; return how many."""
    with tempfile.TemporaryDirectory(prefix="patron-bench-sort-") as tmp:
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            at = header.index("occurred_at")
            runs: list[Path] = []
            while chunk := list(itertools.islice(reader, chunk_rows)):
                chunk.sort(key=lambda row: _instant(row[at]))
                run = Path(tmp) / f"run-{len(runs):05d}.csv"
                with run.open("w", newline="", encoding="utf-8") as out:
                    csv.writer(out).writerows(chunk)
                runs.append(run)
        return _merge(runs, header, at, target)


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.reader(handle)


def _merge(runs: list[Path], header: list[str], at: int, target: Path) -> int:
    count = 0
    merged = heapq.merge(*(_rows(run) for run in runs), key=lambda row: _instant(row[at]))
    # Renamed when complete: the benchmark reuses the target when it exists.
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in merged:
            writer.writerow(row)
            count += 1
    partial.replace(target)
    return count


__all__ = ["write_in_time_order"]
