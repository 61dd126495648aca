"""patron.yaml: defaults, relative paths, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'patron.db'}"
    assert settings.rule_dirs == [tmp_path / "rules"]
    assert (settings.timezone, settings.default_locale, settings.currency) == (
        "Asia/Shanghai",
        "zh-CN",
        "CNY",
    )


def test_paths_are_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    conf = tmp_path / "etc" / "patron.yaml"
    conf.parent.mkdir()
    conf.write_text("database_url: sqlite:///data/p.db\nrule_paths: [../rules, /srv/more-rules]\n")
    settings = load_settings(conf)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'etc' / 'data' / 'p.db'}"
    assert settings.rule_dirs == [tmp_path / "etc" / ".." / "rules", Path("/srv/more-rules")]


def test_environment_overrides_the_store_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "patron.yaml"
    conf.write_text("database_url: sqlite:///a.db\n")
    monkeypatch.setenv("PATRON_DATABASE_URL", "postgresql+psycopg://patron@db/patron")
    assert load_settings(conf).resolved_database_url == "postgresql+psycopg://patron@db/patron"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "timezone: Mars/Olympus\n",
            "patron.yaml: timezone: Value error, unknown time zone 'Mars/Olympus' (use an IANA name such as Asia/Shanghai)",
        ),
        ("databse_url: x\n", "patron.yaml: databse_url: Extra inputs are not permitted"),
        (
            "cycle_work_mem: 256MB; DROP TABLE ledger\n",
            "patron.yaml: cycle_work_mem: String should match pattern",
        ),
        ("- a\n- b\n", "patron.yaml: expected a mapping of settings at the top level"),
        ("timezone: [\n", "patron.yaml: not valid YAML"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    Path("patron.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
