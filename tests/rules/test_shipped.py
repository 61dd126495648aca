"""Every rule file shipped in the repository's ``rules/`` folder loads without problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.app import build_app
from core.config import Settings
from core.rules.load import is_rule_test

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    p
    for p in [*(REPO / "rules").rglob("*.yaml"), *(REPO / "rules").rglob("*.yml")]
    if not is_rule_test(p)
)


@pytest.mark.skipif(not SHIPPED, reason="no rule files shipped yet")
def test_shipped_rules_have_no_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    app = build_app(settings=Settings(base_dir=REPO))  # rules/ and templates/ of the repository
    rule_set, problems = app.check_rules()
    assert [str(p) for p in problems] == []
    assert rule_set.files == SHIPPED
    assert rule_set.rules, "the shipped files define no rule"
