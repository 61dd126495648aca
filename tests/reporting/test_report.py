"""`patron report`: counts per rule and channel from a real cycle and delivery, the HTML
page escaped and self-contained, and that page in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from core.app import App
from core.cli.main import main
from core.config import FrequencyCap, Settings
from core.cycle import run_cycle
from core.delivery import deliver
from core.reporting import build_report, render_html, render_text
from core.reporting.render import as_document
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
    description: Thank <every> buyer.
    schedule: "every 1h"
    when: purchase_count >= 1
    once_per: once
    category: care
    then:
      - send: {channel: file, template: care/hello}
  - id: offer
    description: An offer.
    schedule: "every 1h"
    when: purchase_count >= 1
    once_per: once
    category: marketing
    then:
      - send: {channel: file, template: care/hello}
"""
AS_OF = at("2026-11-23T01:00:00")


@pytest.fixture
def app(store: Store, settings: Settings, make_app: Callable[[], App]) -> App:
    settings.channels = {"file": {"address": "email"}}
    settings.delivery.caps = [FrequencyCap(category="marketing", max=0, per=86400)]
    write_rules(settings, RULES)
    people = {
        "ann": "ann@example.com",
        "bo": None,
        "<cy>": "cy@example.com",
    }
    for name, email in people.items():
        customer = add_customer(store, name, name=name, email=email, locale="en")
        add_event(store, customer, "purchase", "2026-11-20T10:00:00", amount=100)
        if name == "ann":  # buys again after the message: a conversion
            add_event(store, customer, "purchase", "2026-11-25T10:00:00", amount=100)
    built = make_app()
    run_cycle(store, built.registry, settings, built.load_rules(), AS_OF)
    deliver(store, built.registry, settings, built.catalog, now=AS_OF)
    return built


def test_counts_per_rule_and_channel(app: App) -> None:
    with app.store.engine.connect() as conn:
        found = build_report(conn, AS_OF - 86400, AS_OF + 86400, app.settings.zone)
    document = as_document(found)
    assert document["rules"] == [
        {
            "rule": "offer",
            "channel": "file",
            "fired": 3,
            "sent": 0,
            "suppressed": 3,
            "failed": 0,
            "pending": 0,
            "converted": 0,
            "suppressed_by_reason": {
                "frequency cap: at most 0 marketing messages per 1d": 2,
                "no email address": 1,
            },
        },
        {
            "rule": "thanks",
            "channel": "file",
            "fired": 3,
            "sent": 2,
            "suppressed": 1,
            "failed": 0,
            "pending": 0,
            "converted": 1,
            "suppressed_by_reason": {"no email address": 1},
        },
    ]
    assert document["sends_per_day"] == {"2026-11-22": 0, "2026-11-23": 2, "2026-11-24": 0}
    text = render_text(found, app.settings.zone)
    assert re.search(r"^thanks\s+file\s+3\s+2\s+1\s+0\s+0\s+1$", text, re.MULTILINE), text


def test_the_html_is_escaped_and_self_contained(app: App) -> None:
    with app.store.engine.connect() as conn:
        found = build_report(conn, AS_OF - 86400, AS_OF + 86400, app.settings.zone)
    page = render_html(found, app.settings.zone, title="Care <weekly>")
    assert "<title>Care &lt;weekly&gt;</title>" in page
    assert "<weekly>" not in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)  # nothing from the network
    assert page.count('<svg class="chart"') == 2  # sends per day, suppression reasons


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_html_report_renders_in_a_headless_browser(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = chromium()
    if browser is None:
        if os.environ.get("CI") or os.environ.get("PATRON_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (PATRON_REQUIRE_BROWSER) but not installed")
        pytest.skip("no chromium on this machine")
    with app.store.engine.connect() as conn:
        found = build_report(conn, AS_OF - 86400, AS_OF + 86400, app.settings.zone)
    page = tmp_path / "report.html"
    page.write_text(render_html(found, app.settings.zone), encoding="utf-8")
    flags = ["--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # the page's own script ran after the DOM loaded and counted the drawn charts
    assert 'data-charts="2"' in dom
    assert dom.count("<rect") >= 3
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1000,900", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000


def test_the_command_and_the_plugin_reports(
    sqlite_store: Store, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_rules(settings, RULES)
    write_template(settings, "care/hello", "en", "Hello", "Hi!")
    config = write_config(settings)
    html = tmp_path / "r.html"
    argv = ["-c", str(config), "report", "--from", "2026-11-01", "--to", "2026-11-23"]
    assert main([*argv, "--json", "--html", str(html)]) == 0
    assert json.loads(capsys.readouterr().out)["rules"] == []
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert main(["-c", str(config), "report", "journeys"]) == 0  # a plugin's subcommand
