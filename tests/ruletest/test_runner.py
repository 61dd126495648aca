"""`patron test`: passing and failing rule tests, bad test files, the failure text pinned."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.cli.main import main
from core.config import Settings
from core.ruletest import run_file
from tests.cycle.conftest import write_config, write_rules, write_template

RULES = """\
rules:
  - id: thanks
    description: Thank buyers the day after.
    schedule: "every 1h"
    when: purchase_count >= 1 and days_since_last_purchase >= 1
    once_per: once
    category: care
    then:
      - send: {channel: file, template: care/hello}
"""

HEAD = """\
customers:
  - {external_id: ann, name: Ann, email: ann@example.com, locale: en}
  - {external_id: bo, name: Bo, locale: en}
events:
  - {customer: ann, type: purchase, at: "2026-11-20T10:00", amount: 12.50}
  - {customer: bo, type: purchase, at: "2026-11-20T10:00", amount: 8}
"""


@pytest.fixture
def folder(settings: Settings) -> Path:
    write_rules(settings, RULES)
    write_template(settings, "care/hello", "en", "Thanks, {{ customer.name }}", "See you soon.")
    tests = settings.rule_dirs[0] / "tests"
    tests.mkdir()
    return tests


def write(folder: Path, steps: str, head: str = HEAD) -> Path:
    path = folder / "thanks.test.yaml"
    path.write_text(head + textwrap.dedent(steps), encoding="utf-8")
    return path


def failures(path: Path, settings: Settings) -> list[str]:
    result = run_file(path, settings)
    return [str(p) for p in result.problems] + [
        f"{f.line}: [{f.step}] {f.message}" for f in result.failures
    ]


def test_a_passing_file(folder: Path, settings: Settings) -> None:
    path = write(
        folder,
        """\
        steps:
          - at: "2026-11-20T12:00"
            fires: {thanks: []}
          - at: "2026-11-21T12:00"
            fires: {thanks: [ann, bo]}
            messages:
              - {rule: thanks, customer: ann, contains: [Thanks, Ann]}
            suppressed:
              - {rule: thanks, customer: bo, reason: no email address}
          - at: "2026-11-22T12:00"
            not_fires: {thanks: [ann, bo]}
        """,
    )
    result = run_file(path, settings)
    assert (result.ok, result.steps, result.checks) == (True, 3, 5)


def test_failures_say_what_differs_and_where(folder: Path, settings: Settings) -> None:
    path = write(
        folder,
        """\
        steps:
          - name: too early
            at: "2026-11-20T12:00"
            fires: {thanks: [ann]}
          - at: "2026-11-21T12:00"
            not_fires: {thanks: [bo]}
            messages:
              - {rule: thanks, customer: ann, contains: Welcome}
            suppressed:
              - {rule: thanks, customer: ann, reason: consent}
        """,
    )
    assert failures(path, settings) == [
        "10: [too early] rule 'thanks' fired for nobody\n    - ann   (expected, did not fire)",
        "12: [at 2026-11-21T12:00] rule 'thanks' fired for bo, expected not",
        "14: [at 2026-11-21T12:00] the message of rule 'thanks' to ann does not contain "
        "'Welcome'; it reads:\n    | Thanks, Ann\n    | See you soon.",
        "16: [at 2026-11-21T12:00] rule 'thanks' for ann: expected suppression 'consent', "
        "got: it was not suppressed",
    ]


def test_unknown_names_suggest_the_nearest(folder: Path, settings: Settings) -> None:
    path = write(
        folder,
        """\
        steps:
          - at: "2026-11-21T12:00"
            fires: {thank: [ann], thanks: [anne]}
        """,
    )
    assert failures(path, settings) == [
        "9: [at 2026-11-21T12:00] no customer 'anne' in this file (did you mean 'ann'?)",
        "9: [at 2026-11-21T12:00] no rule 'thank' in the loaded rules or the ledger "
        "(did you mean 'thanks'?)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps: [{at: x, fire: {}}]\n", "1: steps[0]: unknown key 'fire' (did you mean 'fires'?)"),
        ("customers: []\n", "1: missing key 'steps'"),
        ("steps:\n  - at: 2026-11-21\n  at: x\n", "3:"),
        (
            HEAD.replace("type: purchase, at", "type: purchse, at", 1)
            + "steps: [{at: '2026-11-21T12:00'}]\n",
            "5: unknown event type 'purchse'",
        ),
    ],
)
def test_bad_files_are_named_by_line(
    folder: Path, settings: Settings, text: str, expected: str
) -> None:
    path = folder / "bad.test.yaml"
    path.write_text(text, encoding="utf-8")
    found = failures(path, settings)
    assert found and found[0].startswith(f"{path}:{expected}"), found


def test_the_command_and_the_rule_loader(
    folder: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    write(folder, 'steps:\n  - at: "2026-11-21T12:00"\n    fires: {thanks: [ann]}\n')
    config = write_config(settings)
    assert main(["-c", str(config), "check"]) == 0  # the test file is not read as rules
    capsys.readouterr()
    assert main(["-c", str(config), "test"]) == 1
    out = capsys.readouterr().out
    assert "rule 'thanks' fired for ann, bo\n    + bo   (fired, not expected)" in out
    assert out.endswith("FAILED: 1 of 1 test file(s)\n")
