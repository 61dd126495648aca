"""Every template shipped in templates/ is valid, in English and Simplified Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.registry import Registry
from core.templates import TemplateCatalog, sample_context

SHIPPED = Path(__file__).resolve().parents[2] / "templates"
EXPECTED = [
    "care/birthday",
    "care/complaint_followup",
    "care/holiday_greeting",
    "care/low_score_recovery",
    "care/post_purchase_followup",
    "care/survey_invitation",
    "churn/winback_inactive",
    "churn/winback_vip",
    "service/complaint_overdue_staff",
    "tiering/vip_thanks",
    "tiering/welcome_new",
]


@pytest.fixture
def shipped(registry: Registry) -> TemplateCatalog:
    return TemplateCatalog(
        [SHIPPED], "zh-CN", "CNY", timezone="Asia/Shanghai", feature_types=registry.feature_types()
    )


def test_the_expected_templates_ship_in_both_locales(shipped: TemplateCatalog) -> None:
    assert set(EXPECTED) <= set(shipped.names())
    for name in shipped.names():
        assert {"en", "zh-CN"} <= set(shipped.locales(name)), name


@pytest.mark.parametrize("channel", ["email", "file", "webhook"])
def test_shipped_templates_have_no_problems(
    shipped: TemplateCatalog, registry: Registry, channel: str
) -> None:
    problems = {
        name: shipped.problems(name, channel, registry.features.names()) for name in shipped.names()
    }
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize("name", EXPECTED)
def test_shipped_templates_render_without_optional_data(
    shipped: TemplateCatalog, registry: Registry, name: str
) -> None:
    """A customer without a name and with no purchase history still gets a sensible message."""
    for locale in ("en", "zh-CN"):
        context = sample_context(registry.feature_types(), [], locale, "CNY", shipped.zone)
        for key in [k for k, f in registry.features.items.items() if f.default is None]:
            context[key] = None
            context["features"][key] = None
        for key in ("name", "account_manager", "email", "phone"):
            context["customer"][key] = None
        message = shipped.render(name, locale, context)
        assert message.subject and message.body and "None" not in message.body + message.subject
        assert message.locale == locale
