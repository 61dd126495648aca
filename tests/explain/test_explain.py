"""`patron explain` after a real cycle and delivery: matched, not matched, suppressed, capped."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from core.app import App
from core.cli.main import main
from core.config import FrequencyCap, Settings
from core.cycle import run_cycle
from core.delivery import deliver
from core.errors import UserError
from core.explain import as_document, explain, render_text
from core.store import Store
from tests.cycle.conftest import add_customer, add_event, at, write_rules, write_template

AS_OF = "2026-11-23T01:00:00"
RULES = """\
rules:
  - id: thanks
    description: Thank a customer for their first purchase.
    schedule: "every 1h"
    when: purchase_count >= 1 and days_since_last_purchase < 30
    once_per: once
    category: care
    priority: 10
    then:
      - send: {channel: file, template: care/hello}
  - id: offer-a
    description: The better offer.
    schedule: "every 1h"
    when: purchase_count >= 1
    once_per: 7d
    category: marketing
    priority: 20
    then:
      - send: {channel: file, template: care/hello}
  - id: offer-b
    description: The lesser offer, capped when offer-a went out.
    schedule: "0 9 * * 1"
    when: purchase_count >= 1
    once_per: day
    category: marketing
    priority: 30
    then:
      - send: {channel: file, template: care/hello}
"""


@pytest.fixture
def app(store: Store, settings: Settings, make_app: Callable[[], App]) -> App:
    """Ann bought and has an address; Bo never bought; Cy bought but has no e-mail."""
    settings.channels = {"file": {"address": "email"}}
    settings.delivery.caps = [FrequencyCap(category="marketing", max=1, per=7 * 86400)]
    write_rules(settings, RULES)
    ann = add_customer(store, "ann", name="Ann", email="ann@example.com", locale="en")
    add_customer(store, "bo", name="Bo", email="bo@example.com", locale="en")
    cy = add_customer(store, "cy", name="Cy", locale="en")
    for customer in (ann, cy):
        add_event(store, customer, "purchase", "2026-11-20T10:00:00", amount=5000)
    built = make_app()
    rules = built.load_rules()
    run_cycle(store, built.registry, settings, rules, at(AS_OF), force=True)
    deliver(store, built.registry, settings, built.catalog, now=at(AS_OF))
    return built


def text(app: App, customer: str, rule: str | None = None) -> str:
    found = explain(
        app.store, app.registry, app.settings, app.load_rules(), customer, at(AS_OF), rule_id=rule
    )
    return render_text(found, all_features=False)


def ids_of(app: App) -> list[int]:
    with app.store.begin() as conn:
        return [int(i) for i in conn.exec_driver_sql("SELECT id FROM ledger ORDER BY id").scalars()]


def test_a_matched_customer_who_got_the_message(app: App) -> None:
    first = ids_of(app)[0]
    assert text(app, "ann", "thanks") == (
        "customer ann  Ann\n"
        "  email ann@example.com  phone -  locale en  time zone -\n"
        "  consent -  account manager -\n"
        "as of 2026-11-23 09:00 CST\n"
        "\n"
        "features\n"
        "  days_since_last_purchase  2.62\n"
        "  purchase_count            1\n"
        "\n"
        "rules\n"
        f"✓ thanks  FIRED  ({app.settings.rule_dirs[0] / 'rules.yaml'}:2)\n"
        "    fired at 2026-11-23 09:00 CST (period once)\n"
        "    schedule every 1h; once_per once\n"
        "    when\n"
        "      purchase_count >= 1 and days_since_last_purchase < 30 → true\n"
        "        purchase_count >= 1 → true\n"
        "          purchase_count → 1\n"
        "        days_since_last_purchase < 30 → true\n"
        "          days_since_last_purchase → 2.62\n"
        "    actions\n"
        f"      #{first} send file: sent 2026-11-23 09:00 CST"
    )


def test_a_customer_the_condition_does_not_match(app: App) -> None:
    assert text(app, "bo", "thanks").split("rules\n")[1] == (
        f"✗ thanks  not matched  ({app.settings.rule_dirs[0] / 'rules.yaml'}:2)\n"
        "    the condition is false\n"
        "    schedule every 1h; once_per once\n"
        "    when\n"
        "      purchase_count >= 1 and days_since_last_purchase < 30 → false   ✗\n"
        "        purchase_count >= 1 → false   ✗\n"
        "          purchase_count → 0\n"
        "        days_since_last_purchase < 30 → null   ✗\n"
        "          days_since_last_purchase → null"
    )


def test_a_suppressed_customer_shows_the_reason(app: App) -> None:
    out = text(app, "cy", "thanks")
    assert out.split("    actions\n")[1].endswith("send file: suppressed: no email address")


def test_a_capped_message_names_the_cap_and_the_rule_that_was_preferred(app: App) -> None:
    found = explain(app.store, app.registry, app.settings, app.load_rules(), "ann", at(AS_OF))
    verdicts = {v.rule_id: v for v in found.rules}
    assert [v.rule_id for v in found.rules] == ["thanks", "offer-a", "offer-b"]
    assert verdicts["offer-a"].firings[0].status == "sent"
    capped = render_text(found, all_features=False).split("✓ offer-b")[1]
    assert capped.splitlines()[-1].endswith(
        "send file: suppressed: frequency cap: at most 1 marketing messages per 1w"
    )


def test_already_fired_and_not_due_a_day_later(app: App) -> None:
    later = at("2026-11-24T01:00:00")  # Tuesday: offer-b's Monday schedule is not due
    found = explain(app.store, app.registry, app.settings, app.load_rules(), "ann", later)
    outcome = {v.rule_id: (v.outcome, v.detail) for v in found.rules}
    assert outcome == {
        "thanks": (
            "already_fired",
            "already fired at 2026-11-23 09:00 CST (once_per once: period once)",
        ),
        "offer-a": (
            "already_fired",
            "already fired at 2026-11-23 09:00 CST (once_per 7d: a firing within the window)",
        ),
        "offer-b": (
            "not_due",
            "matches, but schedule '0 9 * * 1' is next due 2026-11-30 09:00 CST",
        ),
    }
    week_later = at("2026-12-01T01:00:00")
    found = explain(app.store, app.registry, app.settings, app.load_rules(), "ann", week_later)
    offer_a = next(v for v in found.rules if v.rule_id == "offer-a")
    assert (offer_a.outcome, offer_a.detail) == (
        "would_fire",
        "matches and is due; no firing recorded yet (last evaluated 2026-11-23 09:00 CST)",
    )


def test_json_has_the_same_facts(app: App) -> None:
    found = explain(app.store, app.registry, app.settings, app.load_rules(), "cy", at(AS_OF))
    document = json.loads(json.dumps(as_document(found), default=str))
    thanks = document["rules"][0]
    assert (thanks["id"], thanks["outcome"], thanks["matched"]) == ("thanks", "fired", True)
    assert thanks["firings"][0]["reason"] == "no email address"
    assert thanks["condition"]["parts"][0]["text"] == "purchase_count >= 1"
    assert document["features"]["purchase_count"] == 1
    assert document["customer"]["external_id"] == "cy"


def test_unknown_customer_and_rule_say_what_is_there(app: App) -> None:
    rules = app.load_rules()
    with pytest.raises(UserError, match=r"no customer with external id 'an' \(did you mean 'ann'"):
        explain(app.store, app.registry, app.settings, rules, "an", at(AS_OF))
    with pytest.raises(UserError, match=r"no rule 'thank' .*\(did you mean 'thanks'\?\)"):
        explain(app.store, app.registry, app.settings, rules, "ann", at(AS_OF), rule_id="thank")


def test_the_command_after_run_once_reads_only(
    sqlite_store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    write_rules(settings, RULES)
    write_template(settings, "care/hello", "en", "Hello {{ customer.name }}", "Hi!")
    cy = add_customer(sqlite_store, "cy", name="Cy", locale="en")
    add_event(sqlite_store, cy, "purchase", "2026-11-20T10:00:00", amount=5000)
    config = settings.base_dir / "patron.yaml"
    config.write_text(
        f"database_url: {settings.database_url}\ntimezone: {settings.timezone}\n"
        f"rule_paths: [{settings.rule_dirs[0]}]\ntemplate_paths: [{settings.template_dirs[0]}]\n"
        f"outbox_dir: {settings.base_dir / 'outbox'}\nchannels: {{file: {{address: email}}}}\n",
        encoding="utf-8",
    )
    assert main(["-c", str(config), "run", "--once", "--as-of", "2026-11-23T09:00"]) == 0
    capsys.readouterr()
    with sqlite_store.begin() as conn:
        before = conn.exec_driver_sql("SELECT * FROM ledger ORDER BY id").all()
    code = main(["-c", str(config), "explain", "cy", "--as-of", "2026-11-23T09:00", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(r["id"], r["outcome"]) for r in document["rules"]] == [
        ("thanks", "fired"),
        ("offer-a", "fired"),
        ("offer-b", "fired"),
    ]
    assert {f["reason"] for r in document["rules"] for f in r["firings"]} == {"no email address"}
    with sqlite_store.begin() as conn:
        assert conn.exec_driver_sql("SELECT * FROM ledger ORDER BY id").all() == before
    assert main(["-c", str(config), "explain", "cy", "--rule", "offer"]) == 1
    assert "did you mean 'offer-" in capsys.readouterr().err
