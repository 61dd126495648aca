"""``patron kept``: listing what cycles keep, and making the next cycle rebuild it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import Store
from tests.cli.conftest import run, seed

KEPT_AFTER_A_CYCLE = {
    "care_contacts",
    "care_surveys",
    "care_ticket_refresh",
    "churn_contact_signals",
    "churn_purchase_days",
    "churn_purchase_signals",
    "churn_survey_signals",
    "purchases",
    "rfm_values",
    "service",
    "tier_current",
}


def _listed(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()}


def _cycle(capsys: pytest.CaptureFixture[str], when: str) -> None:
    assert run(capsys, "run", "--once", "--as-of", when, "--all")[0] == 0


def test_list_and_rebuild(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", store.url)
    seed(workdir, capsys)
    code, out, _ = run(capsys, "kept", "list")
    assert (code, out) == (0, "nothing is kept yet: the next cycle computes everything in full\n")

    _cycle(capsys, "2026-11-23T12:00")
    code, out, _ = run(capsys, "kept", "list")
    listed = _listed(out)
    assert (code, set(listed)) == (0, KEPT_AFTER_A_CYCLE)
    assert "as of 2026-11-23T12:00+08:00" in listed["purchases"]  # patron.yaml zone

    code, out, err = run(capsys, "kept", "rebuild", "purchase")
    assert code == 1
    assert "nothing is kept under 'purchase' (did you mean 'purchases'?)" in err
    assert set(_listed(run(capsys, "kept", "list")[1])) == KEPT_AFTER_A_CYCLE
    code, _, err = run(capsys, "kept", "rebuild", "purchases", "servce")
    assert code == 1 and "nothing is kept under 'servce' (did you mean 'service'?)" in err
    assert set(_listed(run(capsys, "kept", "list")[1])) == KEPT_AFTER_A_CYCLE  # all or nothing

    code, out, _ = run(capsys, "kept", "rebuild", "purchases", "service")
    assert (code, out) == (0, "the next cycle computes in full: purchases, service\n")
    assert set(_listed(run(capsys, "kept", "list")[1])) == KEPT_AFTER_A_CYCLE - {
        "purchases",
        "service",
    }

    _cycle(capsys, "2026-11-24T12:00")  # rebuilds them and keeps them again
    listed = _listed(run(capsys, "kept", "list")[1])
    assert set(listed) == KEPT_AFTER_A_CYCLE
    assert "as of 2026-11-24T12:00+08:00" in listed["purchases"]

    code, out, _ = run(capsys, "kept", "rebuild")
    assert out == f"the next cycle computes in full: {', '.join(sorted(KEPT_AFTER_A_CYCLE))}\n"
    assert run(capsys, "kept", "list")[1].startswith("nothing is kept yet")
