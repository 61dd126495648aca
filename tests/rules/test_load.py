"""Loading: what a valid rule becomes, which files are read, how they are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.builtin.actions import SEND, SendParams
from core.expr import parse
from core.rules import DEFAULT_PRIORITY, check_rules, display_name, load_rules, rule_files

from . import SHANGHAI, FakeEnv, fake_registry, write_rules

CARE = """\
rules:
  - id: birthday-greeting
    description: Greet customers on their birthday.
    schedule: "0 9 * * *"
    when: days_until_birthday == 0 and has_email
    once_per: year
    priority: 50
    category: care
    then:
      - send: {channel: file, template: care/birthday}
      - send:
          channel: email
          template: care/birthday

  - id: lapsed
    schedule: every 1d
    when: days_since_last_purchase >= 90
    once_per: 30d
    category: marketing
    enabled: false
    then:
      - send: {channel: email, template: churn/vip_winback}
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_valid_rule_becomes_a_rule_def(in_tmp: Path) -> None:
    write_rules(in_tmp, {"rules/care.yaml": CARE})
    rule_set = load_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)
    assert rule_set.files == [Path("rules/care.yaml")]
    birthday = rule_set.get("birthday-greeting")
    assert birthday is not None
    assert (birthday.file, birthday.line) == ("rules/care.yaml", 2)
    assert birthday.description == "Greet customers on their birthday."
    assert birthday.when == "days_until_birthday == 0 and has_email"
    assert birthday.condition == parse("days_until_birthday == 0 and has_email")
    assert birthday.schedule.text == "0 9 * * *"
    assert birthday.once_per.text == "year"
    assert (birthday.priority, birthday.category, birthday.enabled) == (50, "care", True)
    assert [(a.index, a.type, a.line) for a in birthday.actions] == [(0, SEND, 10), (1, SEND, 11)]
    assert birthday.actions[1].params == SendParams(channel="email", template="care/birthday")

    lapsed = rule_set.get("lapsed")
    assert lapsed is not None
    assert (lapsed.description, lapsed.priority, lapsed.enabled) == ("", DEFAULT_PRIORITY, False)
    assert lapsed.once_per.lookback_seconds == 30 * 86400
    assert [r.id for r in rule_set.enabled()] == ["birthday-greeting"]
    assert rule_set.get("nope") is None


def test_files_are_found_recursively_sorted_and_hidden_ones_skipped(in_tmp: Path) -> None:
    write_rules(
        in_tmp,
        {
            "rules/b.yaml": "rules: []\n",
            "rules/a/z.yml": "rules: []\n",
            "rules/a.yaml": "rules: []\n",
            "rules/.hidden.yaml": "nonsense: [\n",
            "rules/.git/x.yaml": "nonsense: [\n",
            "rules/notes.txt": "not yaml\n",
            "extra.yaml": "rules: []\n",
        },
    )
    files, problems = rule_files([Path("rules"), Path("extra.yaml"), Path("rules/b.yaml")])
    assert files == [
        Path("rules/a.yaml"),
        Path("rules/a/z.yml"),
        Path("rules/b.yaml"),
        Path("extra.yaml"),
    ]
    assert problems == []


def test_file_names_are_shown_relative_to_the_current_directory(
    in_tmp: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert display_name(in_tmp / "rules" / "x.yaml") == "rules/x.yaml"
    assert display_name(Path("rules/x.yaml")) == "rules/x.yaml"
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.yaml"
    assert display_name(elsewhere) == elsewhere.as_posix()


def test_absolute_paths_show_relative_names(in_tmp: Path) -> None:
    write_rules(in_tmp, {"rules/x.yaml": CARE.replace("- send:", "- sendd:", 1)})
    _, problems = check_rules([in_tmp / "rules"], fake_registry(), FakeEnv(), SHANGHAI)
    assert [str(p) for p in problems] == [
        "rules/x.yaml:10: rule 'birthday-greeting' → "
        "then[0]: unknown action 'sendd' (did you mean 'send'?)"
    ]


def test_rules_with_problems_are_left_out_of_the_set(in_tmp: Path) -> None:
    write_rules(in_tmp, {"rules/x.yaml": CARE.replace("every 1d", "every day")})
    rule_set, problems = check_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)
    assert [r.id for r in rule_set.rules] == ["birthday-greeting"]
    assert [p.rule for p in problems] == ["lapsed"]


def test_anchors_under_x_keys_and_merge_keys(in_tmp: Path) -> None:
    text = """\
x-defaults: &defaults
  schedule: "0 9 * * *"
  once_per: year
  category: care
rules:
  - <<: *defaults
    id: birthday
    when: days_until_birthday == 0
    then: [{send: {channel: file, template: care/birthday}}]
"""
    write_rules(in_tmp, {"rules/x.yaml": text})
    rule_set, problems = check_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)
    assert problems == []
    birthday = rule_set.get("birthday")
    assert birthday is not None and (birthday.once_per.text, birthday.category) == ("year", "care")

    write_rules(in_tmp, {"rules/x.yaml": text.replace("x-defaults", "defaults")})
    _, problems = check_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)
    assert [str(p) for p in problems] == ["rules/x.yaml:1: unknown key 'defaults'"]


def test_merge_keys_inside_rules(in_tmp: Path) -> None:
    text = """\
rules:
  - &base
    id: first
    schedule: "0 9 * * *"
    when: has_email
    once_per: year
    category: care
    then: [{send: {channel: file, template: care/birthday}}]
  - <<: *base
    id: second
    when: has_emial
"""
    write_rules(in_tmp, {"rules/x.yaml": text})
    rule_set, problems = check_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)
    assert [str(p) for p in problems] == [
        "rules/x.yaml:11: rule 'second' → "
        "when: unknown feature 'has_emial' (did you mean 'has_email'?)"
    ]
    assert [r.id for r in rule_set.rules] == ["first"]
