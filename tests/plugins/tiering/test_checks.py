"""Bad input at ``patron check``: every problem with file, line and the operator's wording."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.app import App, build_app
from core.cli.main import main
from core.config import Settings
from core.plugins import make_plugin_manager
from plugins.tiering.tiers import TiersSection
from tests.plugins.tiering.conftest import OTHER_PLUGINS

REPO = Path(__file__).resolve().parents[3]
ORDER = "(tiers are tried in order, the first whose condition holds wins)"
DEFAULT_TIERS = "the tiers are vip, important, general, new, potential (the default tiers)"


def checked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> list[str]:
    monkeypatch.chdir(settings.base_dir)
    folder = settings.rule_dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    app = build_app(settings=settings, pm=make_plugin_manager(block=OTHER_PLUGINS))
    return [str(p) for p in app.check_rules()[1] if p.severity == "error"]


def tiers(*levels: str) -> str:
    body = "".join(f"    - {level}\n" for level in levels)
    return f"tiers:\n  levels:\n{body}rules: []\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            tiers(
                "{name: vip, when: spend_total >= 100}",
                "{name: important, when: spend_total >= 1000}",
                "{name: base}",
            ),
            [
                "rules/t.yaml:4: tiers.levels[1].when: tier 'important' can never be reached: every "
                f"customer its condition admits is already taken by 'vip' {ORDER}"
            ],
        ),
        (
            tiers(
                "{name: vip, when: spend_total >= 100}",
                "{name: twin, when: spend_total>=100}",
                "{name: base}",
            ),
            [
                "rules/t.yaml:4: tiers.levels[1].when: tier 'twin' can never be reached: it has the "
                f"same condition as tier 'vip' {ORDER}"
            ],
        ),
        (
            tiers(
                "{name: high, when: spend_total >= 100}",
                "{name: low, when: spend_total < 100}",
                "{name: middle, when: spend_total >= 0 or spend_total == 7}",
                "{name: base}",
            ),
            [
                "rules/t.yaml:5: tiers.levels[2].when: tier 'middle' can never be reached: every "
                f"customer its condition admits is already taken by 'high' or 'low' {ORDER}"
            ],
        ),
        (
            tiers("{name: odd, when: spend_total > 100 and spend_total < 50}", "{name: base}"),
            [
                "rules/t.yaml:3: tiers.levels[0].when: tier 'odd' can never be reached: no customer "
                "can satisfy its condition"
            ],
        ),
        (
            tiers(
                "{name: vip, when: spend_total >= 100}",
                "{name: vip, when: has_email}",
                "{name: base}",
            ),
            ["rules/t.yaml:4: tiers.levels[1].name: tier 'vip' is defined twice (also levels[0])"],
        ),
        (
            tiers("{name: all}", "{name: vip, when: has_email}", "{name: base}"),
            [
                "rules/t.yaml:3: tiers.levels[0]: tier 'all' has no 'when', so it takes every "
                "remaining customer and 'vip', 'base' can never be reached: give it a condition "
                "or move it last",
            ],
        ),
        (
            tiers("{name: vip, when: has_email}", "{name: base, when: has_phone}"),
            [
                "rules/t.yaml:4: tiers.levels[1].when: the last tier ('base') takes every customer "
                "no earlier tier took: remove its 'when', or add a last tier without one"
            ],
        ),
        (
            tiers('{name: vip, when: tier == "vip"}', "{name: base}"),
            [
                "rules/t.yaml:3: tiers.levels[0].when: a tier condition cannot use 'tier': the "
                "tiering stage decides it from the other features (the grace period keeps "
                "customers in their tier)"
            ],
        ),
        (
            tiers("{name: vip, when: spendd >= 10}", "{name: base}"),
            [
                "rules/t.yaml:3: tiers.levels[0].when: unknown feature 'spendd' (did you mean 'spend_90d'?)"
            ],
        ),
        (
            tiers("{name: VIP, when: has_email}", "{name: base}"),
            [
                "rules/t.yaml:3: tiers.levels[0].name: a tier name uses lowercase letters, digits "
                "and '_', starting with a letter, got 'VIP'"
            ],
        ),
        (
            "tiers:\n  grace: 30\nrules: []\n",
            ["rules/t.yaml:2: tiers.grace: write a duration such as 30d, 12h or 2w, got 30"],
        ),
        (
            "tiers:\n  rfm: {ties: random}\nrules: []\n",
            [
                "rules/t.yaml:2: tiers.rfm.ties: 'random' is not allowed; use one of: average, "
                "customer_id"
            ],
        ),
    ],
)
def test_tier_list_problems(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    assert checked(settings, monkeypatch, {"t.yaml": text}) == expected


RULE = """
rules:
  - id: r
    schedule: "every 1h"
    when: {when}
    once_per: once
    category: loyalty
    then:
      - {action}
"""


@pytest.mark.parametrize(
    ("when", "action", "expected"),
    [
        (
            'tier == "vipp"',
            "grant_points: {points: 10}",
            [
                f"rules/r.yaml:5: rule 'r' → when: 'vipp' is not a tier (did you mean 'vip'?); {DEFAULT_TIERS}"
            ],
        ),
        (
            'tier_changed_to in ["new", "gold"]',
            "grant_points: {points: 10}",
            [f"rules/r.yaml:5: rule 'r' → when: 'gold' is not a tier; {DEFAULT_TIERS}"],
        ),
        (
            "has_email",
            "grant_points: {points: 10, tier_multiplier: {vip: 2, vipp: 3}}",
            [
                "rules/r.yaml:9: rule 'r' → then[0].grant_points.tier_multiplier.vipp: 'vipp' is "
                f"not a tier (did you mean 'vip'?); {DEFAULT_TIERS}"
            ],
        ),
        (
            'rfm_segment == "champion"',
            "grant_points: {points: 10}",
            [
                "rules/r.yaml:5: rule 'r' → when: 'champion' is not an RFM segment (did you mean "
                "'champions'?); use one of: new_customers, potential_loyalists, champions, "
                "promising, loyal, about_to_sleep, need_attention, hibernating, at_risk, "
                "cant_lose, lost, lapsed, prospect"
            ],
        ),
        (
            "has_email",
            "grant_points: {points: -50}",
            [
                "rules/r.yaml:9: rule 'r' → then[0].grant_points.points: points must be a positive "
                "number of points (points are taken back by points_redeemed events or when they "
                "expire), got -50"
            ],
        ),
        (
            "has_email",
            "grant_points: {points: 5, per_event: surveys}",
            [
                "rules/r.yaml:9: rule 'r' → then[0].grant_points.per_event: unknown event type "
                "'surveys' (did you mean 'survey'?)"
            ],
        ),
        (
            "has_email",
            "issue_coupon: {amount: 500, percent: 10}",
            [
                "rules/r.yaml:9: rule 'r' → then[0].issue_coupon.percent: give either amount "
                "(minor units off) or percent (percent off), not both"
            ],
        ),
        (
            "has_email",
            "issue_coupon: {percent: 120, valid_for: 7d}",
            [
                "rules/r.yaml:9: rule 'r' → then[0].issue_coupon.percent: percent must be between "
                "1 and 100, got 120"
            ],
        ),
    ],
)
def test_rule_problems(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, when: str, action: str, expected: list[str]
) -> None:
    text = RULE.format(when=when, action=action)
    assert checked(settings, monkeypatch, {"r.yaml": text}) == expected


def test_rules_are_checked_against_the_tiers_of_another_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A three-level scheme (SEEDS §2.1: VIP / ordinary / potential) and a rule elsewhere."""
    three = tiers(
        "{name: vip, when: spend_365d >= 5000000 or rfm_score >= 15}",
        "{name: ordinary, when: purchase_count >= 1}",
        "{name: potential}",
    )
    good = RULE.format(when='tier in ["vip", "ordinary"]', action="grant_points: {points: 1}")
    bad = RULE.format(when='tier == "important"', action="grant_points: {points: 1}")
    assert checked(settings, monkeypatch, {"a.yaml": three, "b.yaml": good}) == []
    assert checked(settings, monkeypatch, {"a.yaml": three, "b.yaml": bad}) == [
        "rules/b.yaml:5: rule 'r' → when: 'important' is not a tier; the tiers are vip, "
        "ordinary, potential (tiers: at rules/a.yaml:1)"
    ]


def test_the_shipped_tiers_are_the_defaults() -> None:
    app: App = build_app(
        settings=Settings(base_dir=REPO, rule_paths=[REPO / "rules" / "tiering.yaml"])
    )
    rules, problems = app.check_rules()
    assert [str(p) for p in problems] == []
    assert rules.sections["tiers"].value.model_dump() == {
        **TiersSection().model_dump(),
        "levels": [
            {**level, "description": shipped.description}
            for level, shipped in zip(
                TiersSection().model_dump()["levels"],
                rules.sections["tiers"].value.levels,
                strict=True,
            )
        ],
    }


def test_patron_check_names_the_problem(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(settings.base_dir)
    (settings.base_dir / "patron.yaml").write_text("database_url: sqlite:///patron.db\n")
    (settings.base_dir / "rules").mkdir()
    (settings.base_dir / "rules" / "r.yaml").write_text(
        RULE.format(when='tier == "gold"', action="grant_points: {points: -1}")
    )
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert (
        "rules/r.yaml:9: rule 'r' → then[0].grant_points.points: points must be a positive" in err
    )
