"""Synthetic data for ``patron demo`` and the benchmark (see :mod:`core.demo.synthetic`)."""

from __future__ import annotations

from core.demo.synthetic import write_demo_files

__all__ = ["write_demo_files"]
