"""The benchmark's time-ordered events file: every row once, by instant, in bounded runs."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from bench.time_order import write_in_time_order


def test_rows_come_out_by_instant_and_none_is_lost(tmp_path: Path) -> None:
    rng = random.Random(3)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = []
    for n in range(1000):
        zone = dt.timezone(dt.timedelta(hours=rng.choice([-5, 0, 8])))
        when = (start + dt.timedelta(minutes=rng.randrange(100_000))).astimezone(zone)
        payload = '{"kind": "visit", "note": "a, b"}' if n % 7 == 0 else ""
        rows.append([f"E{n:05d}", f"C{n % 37:03d}", "purchase", when.isoformat(), "9.90", payload])
    rows.append(["E01000", "C001", "purchase", rows[0][3], "1.00", ""])  # a tie with the first
    source, target = tmp_path / "events.csv", tmp_path / "by-time.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer", "type", "occurred_at", "amount", "payload"])
        writer.writerows(rows)

    assert write_in_time_order(source, target, chunk_rows=64) == len(rows)  # 16 runs

    with target.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader)[3] == "occurred_at"
        out = list(reader)
    assert sorted(map(tuple, out)) == sorted(map(tuple, rows))
    instants = [dt.datetime.fromisoformat(r[3]) for r in out]
    assert instants == sorted(instants)
    ties = [r[0] for r in out if r[3] == rows[0][3]]
    assert ties == ["E00000", "E01000"]  # equal instants keep the source's order
