"""The journeys: section is validated like rules: every problem with file, line and key."""

from __future__ import annotations

import textwrap

import pytest

from core.app import build_app
from core.config import Settings
from core.errors import RuleProblems
from tests.cycle.conftest import write_template

VALID = """\
journeys:
  - id: winback
    enroll_when: purchase_count >= 2
    exit_when: purchases_since_enrollment > 0
    category: marketing
    steps:
      - send: {channel: file, template: churn/a}
      - wait: 7d
"""


def problems(settings: Settings, text: str) -> list[str]:
    folder = settings.rule_dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "j.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    for locale in ("en", "zh-CN"):
        write_template(settings, "churn/a", locale, "A", "a")
    app = build_app(settings=settings)
    try:
        app.load_rules()
    except RuleProblems as caught:
        return [str(p) for p in caught.problems if p.severity == "error"]
    return []


def test_a_valid_journey_loads(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(settings.base_dir)
    assert problems(settings, VALID) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    enroll_when:",
            "    enrol_when:",
            [
                "rules/j.yaml:3: journeys[0]: unknown key 'enrol_when' (did you mean 'enroll_when'?)",
            ],
        ),
        (
            "purchase_count >= 2",
            "purchase_cnt >= 2",
            [
                "rules/j.yaml:3: journeys[0].enroll_when: unknown feature 'purchase_cnt' "
                "(did you mean 'purchase_count'?)"
            ],
        ),
        (
            "enroll_when: purchase_count >= 2",
            "enroll_when: purchases_since_enrollment >= 2",
            [
                "rules/j.yaml:3: journeys[0].enroll_when: 'purchases_since_enrollment' is about an "
                "enrollment, so it cannot decide one: use it in exit_when, stop_when, wait_until or if"
            ],
        ),
        (
            "wait: 7d",
            "wait: 7 days",
            [
                "rules/j.yaml:8: journeys[0].steps[1].wait: '7 days' is not a duration: use a number "
                "and a unit: 30m, 12h, 7d or 2w, got '7 days'"
            ],
        ),
        (
            "- wait: 7d",
            "- wait_until: days_in_journey > 3",
            [
                "rules/j.yaml:8: journeys[0].steps[1]: wait_until needs a timeout, e.g. "
                "'timeout: 14d', got a mapping"
            ],
        ),
        (
            "- wait: 7d",
            "- {wait: 7d, send: {channel: file, template: churn/a}}",
            [
                "rules/j.yaml:8: journeys[0].steps[1]: a step is one of: send, wait, wait_until "
                "(with timeout), if (with then); found send, wait, got a mapping"
            ],
        ),
        (
            "template: churn/a}",
            "template: churn/b}",
            [
                "rules/j.yaml:7: journeys[0].steps[0].send.template: unknown template 'churn/b' "
                "(did you mean 'churn/a'?)"
            ],
        ),
        (
            "channel: file,",
            "channel: fiel,",
            [
                "rules/j.yaml:7: journeys[0].steps[0].send.channel: unknown channel 'fiel' "
                "(did you mean 'file'?)"
            ],
        ),
        (
            "    category: marketing\n",
            "    category: marketing\n    reentry: sometimes\n",
            [
                "rules/j.yaml:6: journeys[0].reentry: 'sometimes' is not a re-entry policy: use "
                "never, or after and a cool-down such as 'after 90d', got 'sometimes'"
            ],
        ),
        (
            "    category: marketing\n",
            "    category: marketing\n    holdout_percent: 120\n",
            [
                "rules/j.yaml:6: journeys[0].holdout_percent: input should be less than or equal to 100, got 120"
            ],
        ),
    ],
)
def test_journey_problems_name_file_line_and_key(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    expected: list[str],
) -> None:
    monkeypatch.chdir(settings.base_dir)
    assert old in VALID
    found = problems(settings, VALID.replace(old, new, 1))
    assert found == expected


def test_duplicate_journey_ids_are_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(settings.base_dir)
    second = VALID.split("journeys:\n", 1)[1]
    assert problems(settings, VALID + second) == [
        "rules/j.yaml:9: journeys[1].id: journey 'winback' is also defined at journeys[0]"
    ]
