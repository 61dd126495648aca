"""Every kind of rule-file mistake, pinned to the exact line an operator reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import RuleProblems
from core.rules import load_rules

from . import SHANGHAI, FakeEnv, check_in, fake_registry, problem_lines

VALID = """\
rules:
  - id: vip-winback
    description: A VIP who has not bought for 90 days gets a personal offer.
    schedule: "0 9 * * *"
    when: tier == "vip" and days_since_last_purchase >= 90
    once_per: 180d
    category: marketing
    then:
      - send: {channel: email, template: churn/vip_winback}
"""


def variant(old: str, new: str) -> str:
    """VALID with one line replaced (``new`` may span several lines or be empty)."""
    assert old in VALID
    return VALID.replace(old, new)


CASES: list[tuple[str, str, list[str]]] = [
    # --- 1. YAML --------------------------------------------------------------------------
    (
        "bad indentation",
        variant("    once_per: 180d\n", "   once_per: 180d\n"),
        [
            "rules/x.yaml:6: invalid YAML: expected <block end>, but found "
            "'<block mapping start>' (column 4)"
        ],
    ),
    (
        "unclosed quote",
        variant('"0 9 * * *"', '"0 9 * * *'),
        # the quoted text runs on to the next '"', in line 5
        ["rules/x.yaml:5: invalid YAML: expected <block end>, but found '<scalar>' (column 20)"],
    ),
    (
        "tab",
        variant("    category: marketing\n", "\tcategory: marketing\n"),
        [
            "rules/x.yaml:7: invalid YAML: found character '\\t' that cannot start any token "
            "(column 1)"
        ],
    ),
    (
        "duplicate key",
        variant("    category: marketing\n", "    category: marketing\n    when: has_email\n"),
        ["rules/x.yaml:8: duplicate key 'when' (first at line 5)"],
    ),
    (
        "duplicate key in an action",
        variant(
            "{channel: email, template: churn/vip_winback}",
            "{channel: email, template: churn/vip_winback, channel: file}",
        ),
        ["rules/x.yaml:9: duplicate key 'channel' (first at line 9)"],
    ),
    (
        "unknown tag",
        variant("180d", "!weird 180d"),
        [
            "rules/x.yaml:6: invalid YAML: could not determine a constructor for the tag "
            "'!weird' (column 15)"
        ],
    ),
    # --- 2. structure -------------------------------------------------------------------------
    (
        "top level is a list",
        "- id: a\n- id: b\n",
        ["rules/x.yaml:1: expected a mapping with a 'rules' list at the top level, got a list"],
    ),
    ("no rules key", "{}\n", ["rules/x.yaml:1: missing key 'rules'"]),
    (
        "misspelt rules key",
        "rule: []\n",
        ["rules/x.yaml:1: unknown key 'rule' (did you mean 'rules'?)"],
    ),
    (
        "rules is a mapping",
        "rules:\n  vip-winback: {}\n",
        ["rules/x.yaml:1: rules: expected a list, got a mapping"],
    ),
    (
        "a rule is not a mapping",
        VALID + "  - just text\n",
        [
            "rules/x.yaml:10: rules[1]: expected a rule (a mapping with id, schedule, when, "
            "once_per, category, then), got 'just text'"
        ],
    ),
    (
        "action arguments not indented",
        variant(
            "      - send: {channel: email, template: churn/vip_winback}\n",
            "      - send:\n        channel: email\n        template: churn/vip_winback\n",
        ),
        [
            "rules/x.yaml:9: rule 'vip-winback' → then[0]: an action is a mapping with one key, "
            "the action name, e.g. 'send: {channel: email, template: care/birthday}'; "
            "got 3 keys: 'send', 'channel', 'template' (indent the arguments under 'send:')"
        ],
    ),
    (
        "action is text",
        variant("{channel: email, template: churn/vip_winback}", "email").replace(
            "- send: email", "- send email"
        ),
        [
            "rules/x.yaml:9: rule 'vip-winback' → then[0]: an action is a mapping with one key, "
            "the action name, e.g. 'send: {channel: email, template: care/birthday}'; got "
            "'send email'"
        ],
    ),
    (
        "action arguments are a list",
        variant("{channel: email, template: churn/vip_winback}", "[email, churn/vip_winback]"),
        [
            "rules/x.yaml:9: rule 'vip-winback' → "
            "then[0].send: expected a mapping of arguments, got a list"
        ],
    ),
    # --- 3. schema ------------------------------------------------------------------------------
    (
        "missing when",
        variant('    when: tier == "vip" and days_since_last_purchase >= 90\n', ""),
        ["rules/x.yaml:2: rule 'vip-winback' → missing key 'when'"],
    ),
    (
        "misspelt once_per",
        variant("once_per: 180d", "onceper: 180d"),
        ["rules/x.yaml:6: rule 'vip-winback' → unknown key 'onceper' (did you mean 'once_per'?)"],
    ),
    (
        "unknown key",
        variant("    category: marketing\n", "    category: marketing\n    colour: red\n"),
        ["rules/x.yaml:8: rule 'vip-winback' → unknown key 'colour'"],
    ),
    (
        "priority is a word",
        variant("    category: marketing\n", "    category: marketing\n    priority: high\n"),
        ["rules/x.yaml:8: rule 'vip-winback' → priority: expected an integer, got 'high'"],
    ),
    (
        "enabled is a word",
        variant("    category: marketing\n", '    category: marketing\n    enabled: "no"\n'),
        ["rules/x.yaml:8: rule 'vip-winback' → enabled: expected true or false, got 'no'"],
    ),
    (
        "when is empty",
        variant('tier == "vip" and days_since_last_purchase >= 90', ""),
        ["rules/x.yaml:5: rule 'vip-winback' → when: expected text, got nothing"],
    ),
    (
        "bad category",
        variant("category: marketing", "category: carre"),
        [
            "rules/x.yaml:7: rule 'vip-winback' → category: unknown category 'carre' "
            "(did you mean 'care'?); use one of: care, service, marketing, loyalty, transactional"
        ],
    ),
    (
        "bad id",
        variant("id: vip-winback", "id: VIP winback"),
        [
            "rules/x.yaml:2: rule 'VIP winback' → id: 'VIP winback' is not a valid rule id: "
            "use lowercase letters, digits, '-' and '_', starting with a letter or digit"
        ],
    ),
    (
        "missing id",
        variant("  - id: vip-winback\n    description:", "  - description:"),
        ["rules/x.yaml:2: missing key 'id'"],
    ),
    (
        "no actions",
        variant(
            "    then:\n      - send: {channel: email, template: churn/vip_winback}\n",
            "    then: []\n",
        ),
        ["rules/x.yaml:8: rule 'vip-winback' → then: a rule needs at least one action"],
    ),
    # --- 4. semantics -----------------------------------------------------------------------------
    (
        "unknown action",
        variant("- send:", "- sendd:"),
        [
            "rules/x.yaml:9: rule 'vip-winback' → "
            "then[0]: unknown action 'sendd' (did you mean 'send'?)"
        ],
    ),
    (
        "misspelt action argument",
        variant("template: churn", "tempalte: churn"),
        [
            "rules/x.yaml:9: rule 'vip-winback' → then[0].send: unknown key 'tempalte' "
            "(did you mean 'template'?)"
        ],
    ),
    (
        "missing action argument",
        variant("{channel: email, template: churn/vip_winback}", "{channel: email}"),
        ["rules/x.yaml:9: rule 'vip-winback' → then[0].send: missing key 'template'"],
    ),
    (
        "action argument of the wrong type",
        variant(
            "      - send: {channel: email, template: churn/vip_winback}\n",
            "      - send:\n          channel: email\n          template: [churn/vip_winback]\n",
        ),
        ["rules/x.yaml:11: rule 'vip-winback' → then[0].send.template: expected text, got a list"],
    ),
    (
        "unknown channel",
        variant("channel: email", "channel: emial"),
        [
            "rules/x.yaml:9: rule 'vip-winback' → then[0].send.channel: unknown channel 'emial' "
            "(did you mean 'email'?)"
        ],
    ),
    (
        "unknown template on its own line",
        variant(
            "      - send: {channel: email, template: churn/vip_winback}\n",
            "      - send: {channel: email, template: care/birthday}\n"
            "      - send:\n          channel: file\n          template: churn/vip_winbak\n",
        ),
        [
            "rules/x.yaml:12: rule 'vip-winback' → then[1].send.template: unknown template "
            "'churn/vip_winbak' (did you mean 'churn/vip_winback'?)"
        ],
    ),
    (
        "condition syntax",
        variant('tier == "vip" and days_since_last_purchase >= 90', 'tier == "vip" and ('),
        [
            "rules/x.yaml:5: rule 'vip-winback' → when: syntax error at column 20: "
            "the condition ends too early: expected a value"
        ],
    ),
    (
        "condition is not true or false",
        variant('tier == "vip" and days_since_last_purchase >= 90', "days_since_last_purchase + 1"),
        [
            "rules/x.yaml:5: rule 'vip-winback' → "
            "when: the condition must be true or false, but this is a number"
        ],
    ),
    (
        "cron with four fields",
        variant('"0 9 * * *"', '"0 9 * *"'),
        [
            "rules/x.yaml:4: rule 'vip-winback' → schedule: '0 9 * *' is not a valid cron "
            "expression (5 fields: minute hour day month weekday) or interval such as 'every 15m'"
        ],
    ),
    (
        "cron value out of range",
        variant('"0 9 * * *"', '"0 25 * * *"'),
        [
            "rules/x.yaml:4: rule 'vip-winback' → schedule: '0 25 * * *' is not a valid cron "
            "expression: error validating expression '25': the last value (25) is higher than "
            "the maximum value (23)"
        ],
    ),
    (
        "bad interval",
        variant('"0 9 * * *"', "every 15s"),
        [
            "rules/x.yaml:4: rule 'vip-winback' → schedule: 'every 15s' is not a valid interval: "
            "write 'every' and a number with a unit m (minutes), h (hours) or d (days), "
            "such as 'every 15m', 'every 2h', 'every 1d'"
        ],
    ),
    (
        "bad once_per",
        variant("once_per: 180d", "once_per: yearly"),
        [
            "rules/x.yaml:6: rule 'vip-winback' → once_per: 'yearly' is not valid (did you mean "
            "'year'?): use once, day, week, month, quarter, year or a duration such as 30m, "
            "12h, 7d, 2w"
        ],
    ),
    (
        "once_per is a number",
        variant("once_per: 180d", "once_per: 180"),
        ["rules/x.yaml:6: rule 'vip-winback' → once_per: expected text, got 180"],
    ),
    (
        "a disabled rule is still validated",
        variant(
            "    category: marketing\n", "    category: marketing\n    enabled: false\n"
        ).replace("days_since_last_purchase", "days_since_last_purchse"),
        [
            "rules/x.yaml:5: rule 'vip-winback' → when: unknown feature 'days_since_last_purchse' "
            "(did you mean 'days_since_last_purchase'?)"
        ],
    ),
    # --- 5. within one file: duplicate ids ------------------------------------------------------
    (
        "duplicate id in one file",
        VALID + VALID.removeprefix("rules:\n"),
        ["rules/x.yaml:10: rule 'vip-winback' is also defined at rules/x.yaml:2"],
    ),
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_lines(in_tmp: Path, text: str, expected: list[str]) -> None:
    assert problem_lines(in_tmp, {"rules/x.yaml": text}) == expected


def test_the_valid_rule_has_no_problems(in_tmp: Path) -> None:
    rule_set, problems = check_in(in_tmp, {"rules/x.yaml": VALID})
    assert problems == []
    assert [r.id for r in rule_set.rules] == ["vip-winback"]


def test_the_canonical_example(in_tmp: Path) -> None:
    text = (
        "# Win-back campaigns.\n"
        + "#\n" * 8
        + "rules:\n"
        + "  - id: vip-winback\n"
        + "    description: A VIP who has not bought for 90 days gets a personal offer.\n"
        + '    schedule: "0 9 * * *"\n'
        + '    when: tierr == "vip" and days_since_last_purchase >= 90\n'
        + "    once_per: 180d\n"
        + "    category: marketing\n"
        + "    then:\n"
        + "      - send: {channel: email, template: churn/vip_winback}\n"
    )
    assert problem_lines(in_tmp, {"rules/churn.yaml": text}) == [
        "rules/churn.yaml:14: rule 'vip-winback' → when: unknown feature 'tierr' (did you mean 'tier'?)"
    ]


def test_every_problem_of_a_file_is_reported(in_tmp: Path) -> None:
    text = """\
rules:
  - id: birthday
    schedule: "0 9 * *"
    when: tierr == "vip"
    onceper: year
    priority: high
    category: care
    then:
      - sendd: {channel: email, template: care/birthday}
      - send: {channel: emial, tempalte: care/birthday}
  - id: second
    schedule: every 1d
    when: has_email
    once_per: fortnight
    category: care
    then:
      - send: {channel: file, template: care/birthdya}
"""
    assert problem_lines(in_tmp, {"rules/x.yaml": text}) == [
        "rules/x.yaml:3: rule 'birthday' → schedule: '0 9 * *' is not a valid cron expression "
        "(5 fields: minute hour day month weekday) or interval such as 'every 15m'",
        "rules/x.yaml:4: rule 'birthday' → when: unknown feature 'tierr' (did you mean 'tier'?)",
        "rules/x.yaml:5: rule 'birthday' → unknown key 'onceper' (did you mean 'once_per'?)",
        "rules/x.yaml:6: rule 'birthday' → priority: expected an integer, got 'high'",
        "rules/x.yaml:9: rule 'birthday' → then[0]: unknown action 'sendd' (did you mean 'send'?)",
        "rules/x.yaml:10: rule 'birthday' → "
        "then[1].send: unknown key 'tempalte' (did you mean 'template'?)",
        "rules/x.yaml:14: rule 'second' → once_per: 'fortnight' is not valid: use once, day, week, "
        "month, quarter, year or a duration such as 30m, 12h, 7d, 2w",
        "rules/x.yaml:17: rule 'second' → then[0].send.template: unknown template 'care/birthdya' "
        "(did you mean 'care/birthday'?)",
    ]


def test_problems_of_several_files_and_duplicate_ids_across_files(in_tmp: Path) -> None:
    files = {
        "rules/a.yaml": VALID,
        "rules/b.yaml": variant("category: marketing", "category: carre"),
        "rules/sub/c.yml": VALID.replace("vip-winback\n", "other\n", 1) + "  - id: vip-winback\n",
    }
    lines = problem_lines(in_tmp, files)
    assert lines == [
        "rules/b.yaml:2: rule 'vip-winback' is also defined at rules/a.yaml:2",
        "rules/b.yaml:7: rule 'vip-winback' → category: unknown category 'carre' "
        "(did you mean 'care'?); use one of: care, service, marketing, loyalty, transactional",
        "rules/sub/c.yml:10: rule 'vip-winback' → missing key 'schedule'",
        "rules/sub/c.yml:10: rule 'vip-winback' → missing key 'when'",
        "rules/sub/c.yml:10: rule 'vip-winback' → missing key 'once_per'",
        "rules/sub/c.yml:10: rule 'vip-winback' → missing key 'category'",
        "rules/sub/c.yml:10: rule 'vip-winback' → missing key 'then'",
        "rules/sub/c.yml:10: rule 'vip-winback' is also defined at rules/a.yaml:2",
    ]


def test_load_rules_raises_with_every_problem(in_tmp: Path) -> None:
    paths = [in_tmp / "rules"]
    files = {
        "rules/a.yaml": variant("- send:", "- sendd:"),
        "rules/b.yaml": variant("180d", "yearly").replace("vip-winback\n", "b\n"),
    }
    check_in(in_tmp, files)
    with pytest.raises(RuleProblems) as raised:
        load_rules(paths, fake_registry(), FakeEnv(), SHANGHAI)
    assert [p.file for p in raised.value.problems] == ["rules/a.yaml", "rules/b.yaml"]
    assert str(raised.value).splitlines()[0] == (
        "rules/a.yaml:9: rule 'vip-winback' → "
        "then[0]: unknown action 'sendd' (did you mean 'send'?)"
    )
    assert raised.value.summary == "2 error(s)"


def test_warnings_do_not_stop_loading(in_tmp: Path) -> None:
    files = {
        "rules/empty.yaml": "# nothing yet\n",
        "rules/none.yaml": "rules:\n",
        "rules/v.yaml": VALID,
    }
    rule_set, problems = check_in(in_tmp, files)
    assert [str(p) for p in problems] == [
        "rules/empty.yaml:1: warning: the file is empty; write 'rules: []' for a file without rules"
    ]
    loaded = load_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)
    assert [r.id for r in loaded.rules] == [r.id for r in rule_set.rules] == ["vip-winback"]


def test_a_missing_folder_is_a_warning(in_tmp: Path) -> None:
    rule_set, problems = check_in(in_tmp, {})
    assert [str(p) for p in problems] == ["rules: warning: no such file or folder of rules"]
    assert rule_set.rules == []


def test_not_utf8(in_tmp: Path) -> None:
    (in_tmp / "rules").mkdir()
    (in_tmp / "rules" / "x.yaml").write_bytes(b"rules: []\n# \xff\n")
    assert problem_lines(in_tmp, {}) == [
        "rules/x.yaml:2: not UTF-8 text (byte 0xff); save the file as UTF-8"
    ]


def test_a_file_with_a_duplicate_key_yields_no_rules(in_tmp: Path) -> None:
    text = variant("    category: marketing\n", "    category: marketing\n    category: care\n")
    rule_set, problems = check_in(in_tmp, {"rules/x.yaml": text})
    assert [str(p) for p in problems] == [
        "rules/x.yaml:8: duplicate key 'category' (first at line 7)"
    ]
    assert rule_set.rules == []
