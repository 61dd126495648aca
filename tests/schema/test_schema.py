"""`patron schema`: every shipped rule file validates; broken ones are rejected where they break."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from core.cli.main import main
from core.registry import Registry
from core.schema import config_schema, rule_file_schema

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "rules").glob("*.yaml"))


@pytest.fixture
def validator(registry: Registry) -> jsonschema.Draft202012Validator:
    schema = rule_file_schema(registry)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_rule_file_is_valid(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load(path))]
    assert errors == []


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


GOOD = {
    "id": "thanks",
    "schedule": "0 9 * * *",
    "when": "purchase_count >= 1",
    "once_per": "once",
    "category": "care",
    "then": [{"send": {"channel": "file", "template": "care/birthday"}}],
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"categroy": "care"}, []),  # a misspelt key
        ({"priority": "high"}, ["priority"]),
        ({"category": "spam"}, ["category"]),
        ({"then": [{"sned": {"channel": "file"}}]}, ["then", 0]),
        ({"then": [{"send": {"channel": "file", "tempalte": "x"}}]}, ["then", 0]),
        ({"then": [{"grant_points": {"points": "many"}}]}, ["then", 0]),
    ],
)
def test_broken_rules_are_rejected_at_the_right_place(
    validator: jsonschema.Draft202012Validator, change: dict[str, Any], where: list[Any]
) -> None:
    assert list(validator.iter_errors({"rules": [GOOD]})) == []
    errors = list(validator.iter_errors({"rules": [{**GOOD, **change}]}))
    assert errors
    assert any(list(e.absolute_path)[2:] == where for e in errors), [
        (list(e.absolute_path), e.message) for e in errors
    ]


def test_unknown_top_level_keys_and_sections(validator: jsonschema.Draft202012Validator) -> None:
    assert list(validator.iter_errors({"rules": []})) == []
    assert list(validator.iter_errors({"rules": [], "tiers": "vip"}))
    assert list(validator.iter_errors({"rule": []}))


def test_conditions_list_the_features_with_their_types(registry: Registry) -> None:
    when = rule_file_schema(registry)["$defs"]["Rule"]["properties"]["when"]["description"]
    assert "- purchase_count (number): Purchases ever." in when
    assert "- tier (string)" in when


def test_the_config_schema_accepts_the_documented_server_config() -> None:
    text = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    config = yaml.safe_load(text.split("```yaml", 1)[1].split("```", 1)[0])
    validator = jsonschema.Draft202012Validator(config_schema())
    assert [e.message for e in validator.iter_errors(config)] == []
    assert list(validator.iter_errors({"delivery": {"deadline": []}}))


def test_the_command_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / ".patron" / "rules.schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "patron rule file"
    assert main(["schema", "--config"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["title"] == "patron.yaml"
