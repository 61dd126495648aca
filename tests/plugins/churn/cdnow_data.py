"""The CDNOW data of Fader, Hardie & Lee (2005), read the way the paper reads it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
MASTER = REPO / ".." / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
CALIBRATION_END = dt.date(1997, 9, 30)  # the first 39 weeks
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

Stats = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def purchase_days(path: Path) -> dict[str, set[dt.date]]:
    """Each customer's purchase days (several purchases on one day are one)."""
    days: dict[str, set[dt.date]] = {}
    date_column = 2 if path == SAMPLE else 1
    with path.open() as lines:
        for line in lines:
            fields = line.split()
            if not fields or not fields[0].isdigit():
                continue
            day = dt.datetime.strptime(fields[date_column], "%Y%m%d").date()
            days.setdefault(fields[0], set()).add(day)
    return days


def calibration_stats(path: Path = SAMPLE, end: dt.date = CALIBRATION_END) -> Stats:
    """(x, t_x, T) in weeks from each customer's first purchase, up to ``end``."""
    x, t_x, T = [], [], []
    for days in purchase_days(path).values():
        seen = sorted(d for d in days if d <= end)
        if not seen:
            continue
        x.append(len(seen) - 1)
        t_x.append((seen[-1] - seen[0]).days / 7)
        T.append((end - seen[0]).days / 7)
    return np.array(x, float), np.array(t_x), np.array(T)
