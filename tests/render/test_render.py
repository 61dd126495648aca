"""`patron render`: a template as one customer gets it, per channel, sending nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from core.app import App
from core.cli.main import main
from core.config import Settings
from core.errors import UserError
from core.message_preview import preview
from core.store import Store
from tests.cycle.conftest import add_customer, add_event, at, write_template

AS_OF = at("2026-11-23T01:00:00")


@pytest.fixture
def app(store: Store, settings: Settings, make_app: Callable[[], App]) -> App:
    settings.channels = {
        "email": {
            "host": "127.0.0.1",
            "port": 2525,
            "security": "none",
            "from": "Care <care@example.com>",
        },
        "webhook": {
            "url": "http://127.0.0.1:9/hook",
            "body": {"text": "{{ subject }}: {{ body }}"},
        },
        "sms": {"url": "http://127.0.0.1:9/sms", "max_length": 70},
    }
    write_template(
        settings,
        "care/spend",
        "en",
        "Thank you, {{ customer.name }}",
        "You have bought {{ features.purchase_count }} times.",
    )
    ann = add_customer(
        store, "ann", name="Ann", email="ann@example.com", phone="+8613800000001", locale="en"
    )
    add_event(store, ann, "purchase", "2026-11-20T10:00:00", amount=100)
    add_event(store, ann, "purchase", "2026-11-21T10:00:00", amount=100)
    add_customer(store, "bo", name="Bo", locale="zh-CN")
    return make_app()


def test_email_shows_headers_and_the_plain_part(app: App) -> None:
    out = preview(app, "care/spend", "ann", AS_OF, channel_name="email")
    head, _, rest = out.partition("\n\n")
    assert head == "template care/spend [en] for ann via email to ann@example.com"
    assert "Subject: Thank you, Ann" in rest
    assert "To: ann@example.com" in rest and "From: Care <care@example.com>" in rest
    assert rest.endswith("--- text/plain ---\nYou have bought 2 times.")


def test_webhook_and_sms_show_the_json_they_post(app: App) -> None:
    hook = preview(app, "care/spend", "ann", AS_OF, channel_name="webhook")
    assert json.loads(hook.split("\n\n", 1)[1]) == {
        "text": "Thank you, Ann: You have bought 2 times."
    }
    sms = preview(app, "care/spend", "ann", AS_OF, channel_name="sms")
    assert sms.startswith("template care/spend [en] for ann via sms to +8613800000001")
    assert sms.endswith("(24 characters; the limit is 70)")


def test_features_are_as_of_the_instant_and_the_locale_can_be_forced(app: App) -> None:
    before = preview(app, "care/spend", "ann", at("2026-11-21T00:00:00"))
    assert before.endswith("You have bought 1 times.")
    forced = preview(app, "care/spend", "bo", AS_OF, locale="en")
    assert forced.startswith("template care/spend [en] for bo")


def test_a_missing_address_is_said(app: App) -> None:
    out = preview(app, "care/spend", "bo", AS_OF, channel_name="email")
    assert out.splitlines()[0].endswith("to (no address: delivery would suppress it)")
    assert "Subject: Thank you, Bo" in out


@pytest.mark.parametrize(
    ("template", "customer", "channel", "message"),
    [
        ("care/spnd", "ann", None, r"no template 'care/spnd' \(did you mean 'care/spend'\?\)"),
        (
            "care/spend",
            "annn",
            None,
            r"no customer with external id 'annn' \(did you mean 'ann'\?\)",
        ),
        ("care/spend", "ann", "emial", r"no channel 'emial' \(did you mean 'email'\?\)"),
    ],
)
def test_unknown_names_are_errors_with_a_suggestion(
    app: App, template: str, customer: str, channel: str | None, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        preview(app, template, customer, AS_OF, channel_name=channel)


def test_the_command(
    sqlite_store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(settings, "care/hello", "en", "Hello {{ customer.name }}", "Hi!")
    add_customer(sqlite_store, "cy", name="Cy", locale="en")
    config = settings.base_dir / "patron.yaml"
    config.write_text(
        f"database_url: {settings.database_url}\ntemplate_paths: [{settings.template_dirs[0]}]\n"
        f"rule_paths: [{settings.base_dir / 'none'}]\n",
        encoding="utf-8",
    )
    assert main(["-c", str(config), "render", "care/hello", "--customer", "cy"]) == 0
    assert capsys.readouterr().out == (
        "template care/hello [en] for cy\n\nSubject: Hello Cy\n\nHi!\n"
    )
