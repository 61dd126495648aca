"""`patron rules`: last run, next due and ledger counts per rule, after a real cycle."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from core.app import App
from core.cli.main import main
from core.config import Settings
from core.cycle import run_cycle
from core.delivery import deliver
from core.rules_overview import overview
from core.store import Store
from tests.cycle.conftest import (
    add_customer,
    add_event,
    at,
    write_config,
    write_rules,
    write_template,
)

RULES = """\
rules:
  - id: thanks
    description: Thank buyers.
    schedule: "0 9 * * 1"
    when: purchase_count >= 1
    once_per: once
    category: care
    then:
      - send: {channel: file, template: care/hello}
  - id: dormant
    description: Switched off.
    schedule: "every 1h"
    when: purchase_count == 0
    once_per: once
    category: marketing
    enabled: false
    then:
      - send: {channel: file, template: care/hello}
"""


def test_counts_last_run_and_next_due(
    store: Store, settings: Settings, make_app: Callable[[], App]
) -> None:
    settings.channels = {"file": {"address": "email"}}
    write_rules(settings, RULES)
    for name, email in (("ann", "ann@example.com"), ("bo", None)):
        customer = add_customer(store, name, name=name, email=email, locale="en")
        add_event(store, customer, "purchase", "2026-11-20T10:00:00", amount=100)
    app = make_app()
    rules = app.load_rules()
    as_of = at("2026-11-23T01:00:00")  # Monday 09:00 in Shanghai
    run_cycle(store, app.registry, settings, rules, as_of)
    deliver(store, app.registry, settings, app.catalog, now=as_of)

    lines = {line.id: line for line in overview(store, rules, now=as_of + 3600)}
    thanks, dormant = lines["thanks"], lines["dormant"]
    assert (thanks.last_run, thanks.next_due) == (as_of, as_of + 7 * 86400)
    assert (thanks.firings, thanks.firings_recent) == (2, 2)
    assert thanks.by_status == {"pending": 0, "sent": 1, "done": 0, "suppressed": 1, "failed": 0}
    assert (dormant.enabled, dormant.last_run, dormant.next_due, dormant.firings) == (
        False,
        None,
        None,
        0,
    )
    assert not overview(store, rules, now=as_of + 31 * 86400)[0].firings_recent


def test_the_command_lists_every_rule(
    sqlite_store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    write_rules(settings, RULES)
    write_template(settings, "care/hello", "en", "Hello", "Hi!")
    config = write_config(settings)
    assert main(["-c", str(config), "rules"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["rule", "on", "category", "schedule"]
    assert [row.split()[:2] for row in table[1:3]] == [["thanks", "yes"], ["dormant", "no"]]
    assert table[-1].startswith("2 rules in 1 file(s)")
    assert main(["-c", str(config), "rules", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["last_run"], r["firings"]) for r in listed] == [
        ("thanks", None, 0),
        ("dormant", None, 0),
    ]
