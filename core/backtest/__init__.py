"""`patron backtest`: what the rules would have done over a stretch of history."""

from core.backtest.replay import Window, replay, scratch_copy
from core.backtest.tally import BUCKETS, Tally, compare, render, tally, to_csv

__all__ = [
    "BUCKETS",
    "Tally",
    "Window",
    "compare",
    "render",
    "replay",
    "scratch_copy",
    "tally",
    "to_csv",
]
