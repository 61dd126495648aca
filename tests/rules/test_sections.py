"""Plugin-owned top-level sections of rule files: validated with lines, defined once."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from core.app import build_app
from core.config import Settings
from core.errors import RuleProblems
from core.hookspecs import hookimpl
from core.plugins import make_plugin_manager
from core.vocabulary import RuleSection, SectionCheckEnv


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    when: str


class Levels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: list[Level]
    grace_days: int = 30


def check_levels(value: Levels, env: SectionCheckEnv) -> list[tuple[tuple[str | int, ...], str]]:
    return [
        (("levels", i, "when"), f"unknown feature '{level.when}'")
        for i, level in enumerate(value.levels)
        if level.when not in env.feature_types
    ]


class LevelsPlugin:
    @hookimpl
    def patron_rule_sections(self) -> list[RuleSection]:
        return [RuleSection("tiers", Levels, "Customer tiers.", check=check_levels)]


def load(settings: Settings, files: dict[str, str]) -> Any:
    folder = settings.rule_dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    # the shipped tiering plugin owns the real 'tiers' section: leave it out here
    pm = make_plugin_manager(extra=[LevelsPlugin()], block=["tiering"])
    app = build_app(settings=settings, pm=pm)
    return app.load_rules()


def test_a_section_is_validated_and_available(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(settings.base_dir)
    rules = load(
        settings, {"tiers.yaml": "tiers:\n  levels:\n    - {name: vip, when: spend_total}\n"}
    )
    section = rules.sections["tiers"]
    assert (section.file, section.line, section.value.levels[0].name) == (
        "rules/tiers.yaml",
        1,
        "vip",
    )
    assert rules.rules == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"t.yaml": "tiers:\n  levels:\n    - {name: vip, when: spend}\n"},
            ["rules/t.yaml:3: tiers.levels[0].when: unknown feature 'spend'"],
        ),
        (
            {"t.yaml": "tiers:\n  levels: []\n  grace_dayz: 3\n"},
            ["rules/t.yaml:3: tiers: unknown key 'grace_dayz' (did you mean 'grace_days'?)"],
        ),
        (
            {"a.yaml": "tiers:\n  levels: []\n", "b.yaml": "rules: []\ntiers:\n  levels: []\n"},
            ["rules/b.yaml:2: section 'tiers' is also defined at rules/a.yaml:1"],
        ),
        (
            {"t.yaml": "tierz:\n  levels: []\n"},
            ["rules/t.yaml:1: unknown key 'tierz' (did you mean 'tiers'?)"],
        ),
    ],
)
def test_section_problems_name_file_and_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], expected: list[str]
) -> None:
    monkeypatch.chdir(settings.base_dir)
    with pytest.raises(RuleProblems) as caught:
        load(settings, files)
    assert [str(p) for p in caught.value.problems if p.severity == "error"] == expected
