"""The command line's test setting: a working directory with patron.yaml, the shipped
rules and templates and a SQLite store, and the CLI run as an operator runs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with patron.yaml, a copy of the shipped rules and templates, and a SQLite store."""
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    (tmp_path / "patron.yaml").write_text(
        "database_url: sqlite:///patron.db\ntimezone: Asia/Shanghai\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def seed(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "customers.csv").write_text(
        "external_id,name,email,locale,timezone,birthday\n"
        "c1,Ann,ann@example.com,en,Europe/London,1990-11-23\n"
        "c2,李雷,,zh-CN,Asia/Shanghai,1985-11-23\n",
        encoding="utf-8",
    )
    assert run(capsys, "import", "customers", "customers.csv")[0] == 0
