"""`patron test`: rule unit tests in YAML, run against a scratch store with simulated time."""

from core.ruletest.runner import FileResult, run_file

__all__ = ["FileResult", "run_file"]
