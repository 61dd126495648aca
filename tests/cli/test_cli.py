"""The command line as an operator meets it: exit codes and exact messages, no tracebacks."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.store import LedgerEntry, Store, open_store
from tests.cli.conftest import run, seed


def test_check_passes_on_the_shipped_rules(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check")
    assert (code, err) == (0, "")
    files = len(list((workdir / "rules").glob("*.yaml")))
    assert re.match(rf"ok: \d+ rules \(\d+ enabled\) in {files} file\(s\)\n", out), out


def test_check_lists_every_problem_and_fails(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "rules" / "broken.yaml").write_text(
        textwrap.dedent(
            """\
            rules:
              - id: typo
                schedule: "0 9 * * *"
                when: days_since_last_purchas >= 90
                once_per: year
                category: care
                then:
                  - send: {channel: file, template: care/birthday}
              - id: typo
                schedule: "0 9 * *"
                when: purchase_count >= 1
                once_per: year
                category: care
                then:
                  - sendd: {channel: file, template: care/birthday}
            """
        )
    )
    code, _, err = run(capsys, "check")
    assert code == 1
    assert err.splitlines() == [
        "rules/broken.yaml:4: rule 'typo' → when: unknown feature 'days_since_last_purchas' "
        "(did you mean 'days_since_last_purchase'?)",
        "rules/broken.yaml:9: rule 'typo' is also defined at rules/broken.yaml:2",
        "rules/broken.yaml:10: rule 'typo' → schedule: '0 9 * *' is not a valid cron expression "
        "(5 fields: minute hour day month weekday) or interval such as 'every 15m'",
        "rules/broken.yaml:15: rule 'typo' → then[0]: unknown action 'sendd' (did you mean 'send'?)",
        "4 error(s) in 1 file(s)",
    ]


def test_missing_config_file_is_a_plain_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "-c", "nowhere.yaml", "check")
    assert (code, err) == (1, "error: nowhere.yaml: configuration file not found\n")


def test_store_that_cannot_be_opened(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", "sqlite:////nonexistent/folder/patron.db")
    code, _, err = run(capsys, "init")
    assert code == 1
    assert err == (
        "error: sqlite:////nonexistent/folder/patron.db: cannot open the store: unable to open database file. "
        "Check database_url in patron.yaml or PATRON_DATABASE_URL.\n"
    )
    assert "Traceback" not in err


def test_import_reports_bad_rows_and_keeps_good_ones(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "customers.csv").write_text(
        "external_id,name,email,locale\nc1,Ann,ann@example.com,en\nc2,Bo,bo@,zh-CN\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "import", "customers", "customers.csv")
    assert code == 1
    assert "2 rows read, 1 inserted" in out
    assert "customers.csv:3: invalid e-mail 'bo@'" in err
    (workdir / "events.csv").write_text(
        "customer,type,occurred_at,amount\nc1,purchase,2026-11-01T10:00:00,12.50\nc1,purchse,2026-11-02T10:00:00,3\n"
        "zz,purchase,2026-11-02T10:00:00,3\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "import", "events", "events.csv")
    assert code == 1
    assert "3 rows read, 1 inserted" in out
    assert "events.csv:3: unknown event type 'purchse' (did you mean 'purchase'?)" in err
    assert "events.csv:4: unknown customer 'zz'" in err
    code, out, _ = run(capsys, "import", "events", "events.csv")
    assert "0 inserted" in out and "1 already present" in out


def test_dry_run_writes_nothing(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(workdir, capsys)
    code, out, _ = run(
        capsys, "dry-run", "--as-of", "2026-11-23T12:00", "--rule", "birthday-greeting"
    )
    assert code == 0
    assert "birthday-greeting" in out and "2 new firings would fire" in out
    assert "Happy birthday, Ann!" in out
    assert "c2 → file (no address: would be suppressed)" in out
    store = open_store(f"sqlite:///{workdir / 'patron.db'}")
    with store.begin() as conn:
        assert (
            conn.execute(select(func.count()).select_from(LedgerEntry.__table__)).scalar_one() == 0
        )  # type: ignore[attr-defined]
    store.dispose()
    assert not (workdir / "outbox").exists()


def test_run_once_records_and_delivers(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(workdir, capsys)
    code, out, _ = run(
        capsys, "run", "--once", "--as-of", "2026-11-23T12:00", "--rule", "birthday-greeting"
    )
    assert code == 0
    assert "delivered: 1 sent, 1 suppressed, 0 failed, 0 to retry" in out
    assert "suppressed (no email address): 1" in out
    [message] = list((workdir / "outbox").glob("*.txt"))
    text = message.read_text(encoding="utf-8")
    assert "To: ann@example.com" in text and "Subject: Happy birthday, Ann!" in text
    code, out, _ = run(
        capsys,
        "run",
        "--once",
        "--as-of",
        "2026-11-23T12:30",
        "--rule",
        "birthday-greeting",
        "--all",
    )
    assert "0 new firings fired; 2 already fired earlier" in out
    assert len(list((workdir / "outbox").glob("*.txt"))) == 1


def test_run_once_on_both_stores(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", store.url)
    seed(workdir, capsys)
    code, out, _ = run(capsys, "run", "--once", "--as-of", "2026-11-23T12:00", "--all")
    assert code == 0
    assert "birthday-greeting" in out and "delivered: 1 sent" in out


def test_plugins_lists_the_shipped_plugins(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    for name in (
        "core_features",
        "core_actions",
        "core_channels",
        "core_events",
        "tiering",
        "churn",
        "care",
    ):
        assert name in out
    assert "actions: send" in out


def test_bad_as_of_is_explained(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dry-run", "--as-of", "next tuesday")
    assert code == 1
    assert err == (
        "error: 'next tuesday' is not a date or time "
        "(use 2026-11-23, 2026-11-23T09:30 or 2026-11-23T09:30+08:00)\n"
    )
