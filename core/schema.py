"""JSON Schemas (draft 2020-12) for rule files and patron.yaml, built from the registries.

Nothing is written by hand: the rule's own keys come from :class:`RuleModel`, every
action a plugin registers contributes its argument model, every rule-file section its
model, and ``when`` carries the list of features with their types. An editor with a
YAML language server then completes and checks rule files as they are typed; the
semantic checks (unknown feature in a condition, missing template) stay with
``patron check``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.config import Settings
from core.registry import Registry
from core.rules.model import RuleModel

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's schema; its ``$defs`` refer to the document's ``$defs`` (see :func:`_hoist`)."""
    return model.model_json_schema(ref_template="#/$defs/{model}")


def _hoist(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Move a sub-schema's ``$defs`` into the document's."""
    for name, value in schema.pop("$defs", {}).items():
        defs.setdefault(name, value)
    return schema


def feature_help(registry: Registry) -> str:
    lines = ["Condition over customer features. Features:"]
    for name in registry.features.names():
        feature = registry.features[name]
        lines.append(f"- {name} ({feature.type.value}): {feature.description}")
    return "\n".join(lines)


def rule_file_schema(registry: Registry) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    actions = []
    for name in registry.actions.names():
        action = registry.actions[name]
        args = _hoist(_model_schema(action.params), defs)
        args.setdefault("description", action.description)
        actions.append(
            {
                "type": "object",
                "properties": {name: args},
                "required": [name],
                "additionalProperties": False,
                "description": action.description,
                **({"examples": [action.example]} if action.example else {}),
            }
        )
    rule = _hoist(_model_schema(RuleModel), defs)
    rule["properties"]["then"] = {
        **rule["properties"]["then"],
        "items": {"oneOf": actions},
    }
    when = rule["properties"]["when"]
    when["description"] = feature_help(registry)
    when["markdownDescription"] = when["description"].replace("\n- ", "\n* ")
    when["examples"] = ['tier == "vip" and days_since_last_purchase >= 90']
    properties: dict[str, Any] = {
        "rules": {
            "type": "array",
            "items": {"$ref": "#/$defs/Rule"},
            "description": "The rules of this file (may be empty).",
        }
    }
    for name in registry.rule_sections.names():
        section = registry.rule_sections[name]
        value = _hoist(_model_schema(section.model), defs)
        value["description"] = section.description
        properties[name] = value
    defs["Rule"] = rule
    return {
        "$schema": DRAFT,
        "$id": "https://patron.invalid/schema/rules.json",
        "title": "patron rule file",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": defs,
    }


def config_schema() -> dict[str, Any]:
    schema = Settings.model_json_schema(ref_template="#/$defs/{model}")
    schema["properties"].pop("base_dir", None)
    return {
        "$schema": DRAFT,
        "$id": "https://patron.invalid/schema/patron.json",
        **schema,
        "title": "patron.yaml",
    }
