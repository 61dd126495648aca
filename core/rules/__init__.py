"""Rule files: loading, layered validation with located problems, schedules and once_per.

::

    from core.rules import load_rules

    rule_set = load_rules(settings.rule_dirs, registry, env, settings.zone)
    for rule in rule_set.enabled(): ...

The operator's reference of the format is ``docs/rules.md``.
"""

from __future__ import annotations

from core.rules.load import check_rules, display_name, load_rules, rule_files
from core.rules.model import (
    CATEGORIES,
    DEFAULT_PRIORITY,
    ActionCall,
    RuleDef,
    RuleFileModel,
    RuleModel,
    RuleSet,
    SectionValue,
)
from core.rules.once_per import OncePer
from core.rules.schedule import Schedule

__all__ = [
    "CATEGORIES",
    "DEFAULT_PRIORITY",
    "ActionCall",
    "OncePer",
    "RuleDef",
    "RuleFileModel",
    "RuleModel",
    "RuleSet",
    "Schedule",
    "SectionValue",
    "check_rules",
    "display_name",
    "load_rules",
    "rule_files",
]
