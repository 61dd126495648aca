"""The shipped win-back content: journeys that compile, with the steps the seeds ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.app import build_app
from core.config import Settings
from core.journeys.section import journeys_of
from core.plugins import make_plugin_manager

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def shipped() -> dict[str, object]:
    app = build_app(settings=Settings(base_dir=REPO), pm=make_plugin_manager())
    rule_set, problems = app.check_rules([REPO / "rules" / "churn.yaml"])
    assert [str(p) for p in problems] == []
    journeys = journeys_of(rule_set, app.registry.feature_types())
    return {"journeys": {j.id: j for j in journeys}, "rules": rule_set}


def test_every_win_back_journey_is_shipped_with_a_holdout(shipped: dict[str, object]) -> None:
    journeys = shipped["journeys"]
    assert isinstance(journeys, dict)
    assert sorted(journeys) == [
        "complaint-winback",
        "inactivity-reactivation",
        "medium-risk-reminder",
        "post-lapse-rebuild",
        "vip-winback",
    ]
    for journey in journeys.values():
        assert journey.holdout_percent == 10
        assert journey.exit is not None  # buying again is the conversion


def test_the_vip_journey_calls_after_fourteen_days(shipped: dict[str, object]) -> None:
    journeys = shipped["journeys"]
    assert isinstance(journeys, dict)
    program = journeys["vip-winback"].program
    steps = [(i.kind, i.seconds, i.send.template if i.send else None) for i in program]
    assert steps[:3] == [
        ("if", None, None),
        ("send", None, "churn/apology_compensation"),
        ("send", None, "churn/winback_vip"),
    ]
    assert steps[3:7] == [
        ("wait", 7 * 86400, None),
        ("send", None, "churn/vip_coupon"),
        ("wait", 7 * 86400, None),
        ("send", None, "churn/vip_call_task"),
    ]
    call = program[6].send
    assert call is not None and (call.channel, call.to) == ("task", "account_manager")
