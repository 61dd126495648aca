"""Helpers shared by the rule-file tests: a small vocabulary and a fake check environment."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.builtin import actions
from core.config import Settings
from core.errors import Problem
from core.hookspecs import hookimpl
from core.plugins import make_plugin_manager
from core.registry import Registry, build_registry
from core.rules import RuleSet, check_rules
from core.suggest import did_you_mean
from core.vocabulary import Feature, FeatureType

SHANGHAI = ZoneInfo("Asia/Shanghai")
N, S, B = FeatureType.NUMBER, FeatureType.STRING, FeatureType.BOOLEAN


class FakeFeatures:
    """A feature set that is only ever type-checked against, never computed."""

    name = "fake"
    features: Sequence[Feature] = (
        Feature("tier", S, "Customer tier."),
        Feature("days_since_last_purchase", N, "Days since the latest purchase.", "days"),
        Feature("days_until_birthday", N, "Days until the next birthday.", "days"),
        Feature("has_email", B, "The customer has an e-mail address."),
        Feature("churn_risk", N, "Probability of churn."),
    )

    def prepare(self, conn: Any, ctx: Any) -> None:
        return None

    def select(self, ctx: Any) -> Any:
        raise NotImplementedError


class FakeFeaturesPlugin:
    @hookimpl
    def patron_feature_sets(self, settings: Settings) -> list[Any]:
        return [FakeFeatures()]


def fake_registry() -> Registry:
    """The ``send`` action and the fake features, without any installed plugin."""
    pm = make_plugin_manager(entry_points=False, extra=[actions, FakeFeaturesPlugin()])
    return build_registry(pm, Settings())


class FakeEnv:
    """Channels ``email`` and ``file``; templates from a fixed list."""

    templates = ("care/birthday", "churn/vip_winback", "service/sla_breach")

    @property
    def channel_names(self) -> Sequence[str]:
        return ("email", "file")

    def template_problems(self, template: str, channel: str) -> list[str]:
        if template in self.templates:
            return []
        return [f"unknown template '{template}'{did_you_mean(template, self.templates)}"]


def write_rules(root: Path, files: dict[str, str]) -> list[Path]:
    """Write ``{"rules/x.yaml": text}`` under ``root``; return the paths written."""
    written = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_in(root: Path, files: dict[str, str]) -> tuple[RuleSet, list[Problem]]:
    """Write the files under ``root`` (the current directory) and check the ``rules`` folder."""
    write_rules(root, files)
    return check_rules([Path("rules")], fake_registry(), FakeEnv(), SHANGHAI)


def problem_lines(root: Path, files: dict[str, str]) -> list[str]:
    return [str(p) for p in check_in(root, files)[1]]
