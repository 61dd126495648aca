"""Write the benchmark data set: 1,000,000 customers and about 10,000,000 events, as CSV.

    python bench/generate.py [--out DIR] [--customers N] [--events N] [--seed S]

The files come from the demo's generator (:mod:`core.demo.synthetic`): the same
customers, segments and service history, one customer at a time, so memory stays
flat at any size. To reach the requested number of events, two small pilot runs
measure events per customer and every customer's purchase frequency is scaled
to match. The customers file does not depend on that scaling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

from core.demo.synthetic import (
    Refs,
    SyntheticFiles,
    epoch_seconds,
    generate_customers,
    generate_history,
    random_streams,
    write_synthetic_files,
)

BENCH_AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PILOT_CUSTOMERS = 10_000


def events_per_customer(intensity: float, *, seed: int, as_of: dt.datetime, pilot: int) -> float:
    """Mean events per customer over ``pilot`` customers at this purchase ``intensity``."""
    people, histories = random_streams(seed)
    now = epoch_seconds(as_of)
    refs = Refs()
    total = sum(
        len(generate_history(customer, histories, now, refs))
        for customer in generate_customers(pilot, people, as_of, intensity=intensity)
    )
    return total / pilot


def calibrate(customers: int, events: int, *, seed: int, as_of: dt.datetime) -> float:
    """The purchase intensity that gives about ``events`` events for ``customers`` customers.

    Events per customer grow almost linearly with the intensity (purchases, with
    their refunds and surveys): a secant step from two pilot points, then one more.
    """
    pilot = min(PILOT_CUSTOMERS, max(customers, 1))
    wanted = events / max(customers, 1)

    def measured(intensity: float) -> float:
        return events_per_customer(intensity, seed=seed, as_of=as_of, pilot=pilot)

    points = [(0.5, measured(0.5)), (1.5, measured(1.5))]
    for _ in range(2):
        (x0, y0), (x1, y1) = points[-2:]
        guess = min(5.0, max(0.1, x1 + (wanted - y1) * (x1 - x0) / (y1 - y0)))
        points.append((guess, measured(guess)))
    return min(points, key=lambda point: abs(point[1] - wanted))[0]


def write_bench_files(
    directory: Path,
    customers: int = 1_000_000,
    events: int = 10_000_000,
    seed: int = 1,
    as_of: dt.datetime = BENCH_AS_OF,
) -> SyntheticFiles:
    """Write ``customers.csv`` and ``events.csv`` (about ``events`` rows) into ``directory``."""
    intensity = calibrate(customers, events, seed=seed, as_of=as_of)
    return write_synthetic_files(
        directory, customers=customers, seed=seed, as_of=as_of, intensity=intensity
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-data"), help="output folder")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000, help="about this many")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    files = write_bench_files(args.out, args.customers, args.events, args.seed)
    seconds = time.perf_counter() - started
    for path, rows in ((files.customers_path, files.customers), (files.events_path, files.events)):
        print(f"{path}: {rows:,} rows, {path.stat().st_size / 2**20:,.0f} MiB")
    rate = (files.customers + files.events) / seconds
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{seconds:.1f} s ({rate:,.0f} rows/s), peak memory {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
