"""The ``journeys:`` rule-file section: validation with located, operator-worded problems."""

from __future__ import annotations

from collections.abc import Sequence

from core.builtin.actions import check_send
from core.journeys.model import JourneyModel, JourneysSection, Step
from core.journeys.program import Journey, compile_journey, parse_conditions
from core.vocabulary import FeatureType, RuleSection, SectionCheckEnv

Loc = tuple[str | int, ...]

EXAMPLE = """\
journeys:
  - id: winback-reminder
    enroll_when: churn_band == "medium" and purchase_count >= 2
    exit_when: purchases_since_enrollment > 0
    holdout_percent: 10
    reentry: after 180d
    category: marketing
    steps:
      - send: {channel: email, template: churn/reminder}
      - wait: 14d
"""


def _send_problems(steps: Sequence[Step], path: Loc, env: SectionCheckEnv) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    # check_send also checks staff roles when its env carries settings: the rule-file env does
    action_env = getattr(env, "env", env)
    for i, step in enumerate(steps):
        if step.send is not None:
            found = check_send(step.send, action_env)
            problems += [((*path, i, "send", key), message) for key, message in found]
        problems += _send_problems(step.then or (), (*path, i, "then"), env)
        problems += _send_problems(step.else_ or (), (*path, i, "else"), env)
    return problems


def check_journeys(value: JourneysSection, env: SectionCheckEnv) -> list[tuple[Loc, str]]:
    """Unique ids, conditions that parse and type-check, channels and templates that exist."""
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for i, journey in enumerate(value.root):
        if journey.id in seen:
            problems.append(
                (
                    (i, "id"),
                    f"journey '{journey.id}' is also defined at journeys[{seen[journey.id]}]",
                )
            )
        seen.setdefault(journey.id, i)
        _parsed, found = parse_conditions(journey, env.feature_types)
        problems += [((i, *loc), message) for loc, message in found]
        problems += _send_problems(journey.steps, (i, "steps"), env)
    return problems


def journeys_of(rules: object, features: dict[str, FeatureType] | None) -> list[Journey]:
    """The compiled journeys of a loaded rule set (none when it has no ``journeys:``)."""
    sections = getattr(rules, "sections", {}) if rules is not None else {}
    section = sections.get("journeys")
    if section is None:
        return []
    models: list[JourneyModel] = section.value.root
    return [compile_journey(model, features) for model in models]


JOURNEYS_SECTION = RuleSection(
    name="journeys",
    model=JourneysSection,
    description="Multi-step campaigns: enroll on a condition, send, wait, branch, exit on "
    "conversion; a holdout share gets no messages so the effect is measured.",
    check=check_journeys,
    example=EXAMPLE,
)

__all__ = ["JOURNEYS_SECTION", "check_journeys", "journeys_of"]
