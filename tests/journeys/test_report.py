"""patron report journeys: treatment against holdout, uplift with Newcombe's interval."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from core.app import App
from core.cli.main import main
from core.journeys.holdout import holdout_bucket
from core.journeys.report import journey_stats, render
from core.journeys.uplift import uplift, wilson_interval
from core.store import Store, open_store
from tests.cycle.conftest import add_customer, add_event, at
from tests.journeys.conftest import cycle


@pytest.mark.parametrize(
    ("counts", "expected"),
    [  # Newcombe (1998), Table II, method 10
        ((56, 70, 48, 80), (0.2, 0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.6, 0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.5714, 0.0582, 0.8062)),
        ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),
    ],
)
def test_uplift_interval_matches_newcombe(
    counts: tuple[int, int, int, int], expected: tuple[float, float, float]
) -> None:
    found = uplift(*counts)
    assert found is not None
    assert (found.difference, found.low, found.high) == pytest.approx(expected, abs=5e-5)


def test_edge_cases_of_the_intervals() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert uplift(1, 10, 0, 0) is None
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0 < high < 0.2


JOURNEY = """
journeys:
  - id: wb
    enroll_when: purchase_count >= 1 and days_since_last_purchase >= 30
    exit_when: purchases_since_enrollment > 0
    holdout_percent: 50
    category: marketing
    steps:
      - send: {channel: file, template: churn/a}
      - wait: 14d
"""


def test_stats_per_arm(store: Store, journey_app: Callable[..., App]) -> None:
    ids = []
    for i in range(12):
        customer = add_customer(store, f"c{i}")
        add_event(store, customer, "purchase", "2026-01-01T00:00:00", amount=1000)
        ids.append(customer)
    app = journey_app(JOURNEY)
    cycle(app, "2026-03-01T01:00:00")
    held = [c for c in ids if holdout_bucket("wb", c) < 50]
    treated = [c for c in ids if c not in held]
    for customer in treated[:3] + held[:1]:
        add_event(store, customer, "purchase", "2026-03-05T00:00:00", amount=3000)
    cycle(app, "2026-03-06T01:00:00")
    with store.begin() as conn:
        (stats,) = journey_stats(conn, at("2026-03-20T00:00:00"))
    t, h = stats.arms["treatment"], stats.arms["holdout"]
    assert (t.enrolled, t.converted, t.revenue) == (len(treated), 3, 9000)
    assert (h.enrolled, h.converted, h.revenue) == (len(held), 1, 3000)
    assert stats.statuses == {"converted": 4, "active": 8}
    lines = render([stats], "CNY")
    assert lines[0] == "journey wb: 12 enrolled (active 8, converted 4)"
    assert lines[2].split()[:4] == ["treatment", str(len(treated)), "3", f"{3 / len(treated):.1%}"]
    assert lines[-1].startswith("  uplift: ")


def test_the_report_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    (tmp_path / "patron.yaml").write_text("database_url: sqlite:///patron.db\ntimezone: UTC\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "j.yaml").write_text(textwrap.dedent(JOURNEY))
    for locale in ("en", "zh-CN"):
        path = tmp_path / "templates" / "churn" / f"a.{locale}.j2"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{% block subject %}a{% endblock %}{% block body %}a{% endblock %}")
    store = open_store("sqlite:///patron.db")
    for i in range(4):
        add_event(
            store, add_customer(store, f"c{i}"), "purchase", "2026-01-01T00:00:00", amount=100
        )
    store.dispose()
    assert main(["run", "--once", "--as-of", "2026-03-01T09:00", "--no-deliver"]) == 0
    capsys.readouterr()
    assert main(["report", "journeys", "--as-of", "2026-03-10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        "journeys as of 2026-03-10 00:00 UTC",
        "journey wb: 4 enrolled (active 4)",
        "  group       enrolled  converted    rate  revenue/customer",
    ]
    assert main(["report", "journeys", "--journey", "other"]) == 0
    assert "no enrollments yet" in capsys.readouterr().out
