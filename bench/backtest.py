"""A year of daily backtest cycles over the CDNOW master file (23,570 customers).

Imports CDNOW_master.txt into a temporary SQLite store, then replays 1997-01-02 to
1998-01-01 day by day with the shipped rules, exactly as ``patron backtest`` does, and
prints the import time, the total replay time and the time per cycle.

    python bench/backtest.py [--cdnow PATH] [--days 365]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.app import build_app  # noqa: E402
from core.backtest import Window, render, replay, scratch_copy, tally  # noqa: E402
from core.config import Settings  # noqa: E402
from core.importing import import_events  # noqa: E402
from core.timeparse import parse_instant  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cdnow", type=Path, default=REPO.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
    )
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    if not args.cdnow.exists():
        print(f"{args.cdnow} not found: pass --cdnow PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="patron-bench-") as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'patron.db'}",
            base_dir=REPO,
            outbox_dir=Path(tmp) / "outbox",
        )
        app = build_app(settings=settings)
        began = time.perf_counter()
        report = import_events(
            app.store, args.cdnow, settings, app.registry.event_types.names(), fmt="cdnow"
        )
        print(f"import: {report.inserted:,} purchases in {time.perf_counter() - began:.1f} s")
        start = parse_instant("1997-01-02T10:00", settings.zone)
        window = Window(start, start + (args.days - 1) * 86400, 86400)
        rules = app.load_rules()
        began = time.perf_counter()
        with scratch_copy(app.store, settings) as scratch:
            copied = time.perf_counter() - began

            def progress(done: int, total: int) -> None:
                if done % 30 == 0 or done == total:
                    elapsed = time.perf_counter() - began
                    print(f"  {done}/{total} cycles, {elapsed:.0f} s", flush=True)

            messages = replay(scratch, rules, window, progress)
            total = time.perf_counter() - began
            summary = tally(scratch.store, settings.zone, "month")
        cycles = len(window.instants())
        print(f"scratch copy: {copied:.1f} s")
        print(
            f"replay: {cycles} daily cycles in {total:.1f} s ({total / cycles:.2f} s per cycle), "
            f"{messages:,} messages recorded"
        )
        print(render(summary).splitlines()[0])
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
