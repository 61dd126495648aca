"""``patron report service``: times, breaches, escalations, CSAT and NPS of one month."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.cli.main import main
from core.errors import UserError
from core.store import Store
from plugins.care.report import Nps, Spread, build_report, month_bounds
from tests.cycle.conftest import add_customer, add_event, at
from tests.plugins.care.conftest import Care, ticket_event, write_section

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECTION = """\
sla:
  profiles:
    - {name: major, severity: major, respond_within: 4h, resolve_within: 8h}
    - {name: standard, respond_within: 10h, resolve_within: 20h}
  escalations:
    levels:
      - level: 2
        at: response breach
        send: {channel: file, template: service/esc_supervisor, to: supervisor}
"""


@pytest.mark.parametrize(
    ("answers", "score"),
    [
        ([10, 9, 9, 8, 7, 6, 0, 3, 10, 5], 0.0),  # 4 promoters, 2 passives, 4 detractors
        ([9, 10, 10, 6], 50.0),
        ([7, 8], 0.0),  # passives only
        ([0, 6, 6], -100.0),
        ([10], 100.0),
        ([9, 9, 7], 200 / 3),
    ],
)
def test_nps_is_percent_promoters_minus_percent_detractors(
    answers: list[int], score: float
) -> None:
    assert Nps.of(answers).score == pytest.approx(score)
    assert Nps.of([]).score is None


def test_percentiles_interpolate_between_ranks() -> None:
    assert Spread.of([2.0, 3.0, 12.0]) == Spread(3, 3.0, pytest.approx(10.2))
    assert Spread.of([]) == Spread(0, None, None)


def local(text: str) -> str:
    return f"2026-{text}+08:00"


@pytest.fixture
def november(store: Store, care: Callable[[], Care]) -> Care:
    helper = care()
    write_section(helper.settings, SECTION)
    customer = add_customer(store, "c1")
    tickets = {
        "T1": (
            "normal",
            "11-02T00:00:00",
            [("responded", "11-02T02:00:00"), ("resolved", "11-02T06:00:00")],
        ),
        "T2": (
            "normal",
            "11-03T00:00:00",
            [("responded", "11-03T12:00:00"), ("resolved", "11-04T06:00:00")],
        ),
        "T3": (
            "major",
            "11-04T00:00:00",
            [("responded", "11-04T03:00:00"), ("resolved", "11-04T10:00:00")],
        ),
        "T4": ("major", "11-05T00:00:00", []),
        "T0": ("normal", "10-31T23:00:00", [("resolved", "11-01T01:00:00")]),  # October's
    }
    for ref, (severity, opened, later) in tickets.items():
        ticket_event(store, customer, "opened", local(opened), ref=ref, severity=severity)
        for kind, when in later:
            ticket_event(store, customer, kind, local(when), ref=ref)
    for score, nps, day in [
        (5, 10, "11-10"),
        (4, 9, "11-11"),
        (2, 7, "11-12"),
        (1, 3, "11-13"),
        (5, 6, "11-30"),
        (1, 0, "10-31"),
    ]:
        add_event(
            store, customer, "survey", local(f"{day}T12:00:00"), value=score, payload={"nps": nps}
        )
    helper.cycle(local("11-30T20:00:00"))
    return helper


def test_the_monthly_figures(store: Store, november: Care) -> None:
    with store.begin() as conn:
        report = build_report(conn, "2026-11", SHANGHAI)
    assert (report.opened, report.still_open) == (4, 1)
    assert report.response_hours == Spread(3, 3.0, pytest.approx(10.2))
    assert report.resolution_hours == Spread(3, 10.0, pytest.approx(26.0))
    assert {k: (b.tickets, b.response, b.resolution) for k, b in report.breaches.items()} == {
        "major": (2, 1, 2),
        "normal": (2, 1, 1),
    }
    assert report.escalations == {2: 1}
    assert (report.csat.answers, report.csat.mean, report.csat.satisfied_share) == (5, 3.4, 0.6)
    assert (report.nps.promoters, report.nps.passives, report.nps.detractors, report.nps.score) == (
        2,
        1,
        2,
        0.0,
    )


def test_the_command_prints_the_report(
    store: Store,
    november: Care,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "patron.yaml").write_text(f"database_url: '{store.url}'\ntimezone: Asia/Shanghai\n")
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    code = main(["-c", str(tmp_path / "patron.yaml"), "report", "service", "--month", "2026-11"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "service report 2026-11",
        "tickets opened: 4 (still open: 1)",
        "first response: median 3.0 h, p90 10.2 h (3 responded)",
        "resolution:     median 10.0 h, p90 26.0 h (3 resolved)",
        "deadlines missed by severity (tickets: response / resolution):",
        "  major          2: 1 / 2",
        "  normal         2: 1 / 1",
        "escalations: L2: 1",
        "CSAT: 5 answers, mean 3.40 / 5, satisfied (4–5) 60.0% (below the 85% target)",
        "NPS: +0.0 (5 answers: 2 promoters, 1 passives, 2 detractors)",
    ]
    code = main(["-c", str(tmp_path / "patron.yaml"), "report", "service", "--month", "November"])
    _, err = capsys.readouterr()
    assert (code, err.strip()) == (1, "error: 'November' is not a month; write it as 2026-11")


def test_month_bounds_follow_the_configured_zone() -> None:
    assert month_bounds("2026-12", SHANGHAI) == (
        at("2026-11-30T16:00:00"),
        at("2026-12-31T16:00:00"),
    )
    with pytest.raises(UserError):
        month_bounds("2026-13", SHANGHAI)
