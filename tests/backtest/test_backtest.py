"""`patron backtest`: deterministic, the real ledger untouched, comparisons, no future events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.app import App
from core.backtest import Window, compare, replay, scratch_copy, tally, to_csv
from core.cli.main import main
from core.config import Settings
from core.cycle import run_cycle
from core.store import Store
from tests.cycle.conftest import (
    add_customer,
    add_event,
    at,
    write_config,
    write_rules,
    write_template,
)

DAY = 86400
RULES = """\
rules:
  - id: thanks
    description: Thank a buyer two days after a purchase.
    schedule: "0 10 * * *"
    when: days_since_last_purchase >= 2 and days_since_last_purchase < 3
    once_per: 7d
    category: care
    then:
      - send: {channel: file, template: care/hello}
"""
STRICTER = RULES.replace("purchase >= 2 and", "purchase >= 2 and purchase_count >= 2 and")


@pytest.fixture
def app(store: Store, settings: Settings, make_app: Callable[[], App]) -> App:
    write_rules(settings, RULES)
    (settings.base_dir / "other").mkdir()
    (settings.base_dir / "other" / "rules.yaml").write_text(STRICTER, encoding="utf-8")
    ann = add_customer(store, "ann", name="Ann", email="ann@example.com", locale="en")
    bo = add_customer(store, "bo", name="Bo", locale="en")
    for day in ("2026-03-02", "2026-03-10", "2026-04-20"):
        add_event(store, ann, "purchase", f"{day}T02:00:00", amount=100)
    add_event(store, bo, "purchase", "2026-03-15T02:00:00", amount=100)
    built = make_app()
    run_cycle(store, built.registry, built.settings, built.load_rules(), at("2026-05-01T02:00:00"))
    return built


def run(app: App, paths: tuple[Path, ...] = ()) -> str:
    window = Window(at("2026-03-01T02:00:00"), at("2026-04-30T02:00:00"), DAY)
    with scratch_copy(app.store, app.settings) as scratch:
        replay(scratch, app.load_rules(paths), window)
        return to_csv(tally(scratch.store, app.settings.zone, "month"))


def ledger(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM ledger ORDER BY id")]


def test_the_same_history_gives_the_same_counts_and_the_real_ledger_is_untouched(
    app: App,
) -> None:
    before = ledger(app.store)
    first = run(app)
    assert first == run(app)
    assert ledger(app.store) == before
    # Each purchase is thanked two days later (schedules and once_per as in production);
    # Bo has no address, so his message is suppressed, not sent.
    assert first == (
        "rule,period,fired,sent,suppressed: no email address\n"
        "thanks,2026-03,3,2,1\n"
        "thanks,2026-04,1,1,0\n"
    )


def test_no_event_after_a_cycle_is_visible_to_it(app: App) -> None:
    # The April purchase cannot make anyone match in March: March fired exactly for
    # the three March purchases, each on its own day.
    window = Window(at("2026-03-01T02:00:00"), at("2026-03-31T02:00:00"), DAY)
    with scratch_copy(app.store, app.settings) as scratch:
        replay(scratch, app.load_rules(), window)
        with scratch.store.engine.connect() as conn:
            days = (
                conn.exec_driver_sql("SELECT created_at FROM ledger ORDER BY created_at")
                .scalars()
                .all()
            )
    assert days == [
        at(d) for d in ("2026-03-04T02:00:00", "2026-03-12T02:00:00", "2026-03-17T02:00:00")
    ]


def test_compare_shows_what_a_stricter_rule_changes(app: App, settings: Settings) -> None:
    window = Window(at("2026-03-01T02:00:00"), at("2026-04-30T02:00:00"), DAY)
    results = []
    for paths in ((), (settings.base_dir / "other",)):
        with scratch_copy(app.store, app.settings) as scratch:
            replay(scratch, app.load_rules(paths), window)
            results.append(tally(scratch.store, app.settings.zone, "month"))
    assert compare(results[0], results[1]) == (
        "thanks: changed, fired 4 → 2 (-2)\n  - 1 customers, e.g. bo"
    )


def test_the_command(
    sqlite_store: Store, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_rules(settings, RULES)
    write_template(settings, "care/hello", "en", "Hello {{ customer.name }}", "Hi!")
    ann = add_customer(sqlite_store, "ann", name="Ann", email="ann@example.com", locale="en")
    add_event(sqlite_store, ann, "purchase", "2026-03-02T02:00:00", amount=100)
    config = write_config(settings)
    out_csv = tmp_path / "counts.csv"
    argv = ["-c", str(config), "backtest", "--from", "2026-03-01", "--to", "2026-03-10"]
    assert main([*argv, "--by", "day", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("thanks: fired 1\n  2026-03-05 1\n  sent 1\n")
    assert out_csv.read_text(encoding="utf-8") == "rule,period,fired,sent\nthanks,2026-03-05,1,1\n"
    assert main([*argv, "--step", "2x"]) == 2


def test_events_a_stage_derived_are_derived_again_not_copied(app: App) -> None:
    # A tier change the real store's later cycles recorded (as the tiering stage writes
    # it) must not be visible to a replay of March: the replay derives its own.
    ann = 1
    add_event(app.store, ann, "tier_changed", "2026-03-20T02:00:00", ref="vip")
    with scratch_copy(app.store, app.settings) as scratch, scratch.store.engine.connect() as conn:
        types = conn.exec_driver_sql("SELECT type FROM events ORDER BY id").scalars().all()
    assert types == ["purchase"] * 4
