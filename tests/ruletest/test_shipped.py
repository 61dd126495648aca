"""The rule tests shipped beside the rules pass (CI also runs them with `patron test rules/`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.ruletest import run_file

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "rules" / "tests").glob("*.test.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_rule_tests_pass(path: Path, tmp_path: Path) -> None:
    settings = Settings(base_dir=REPO, database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    result = run_file(path, settings)
    assert result.ok, "\n".join(
        [str(p) for p in result.problems] + [f"{f.line}: {f.message}" for f in result.failures]
    )
    assert result.checks > 0
