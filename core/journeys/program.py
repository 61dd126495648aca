"""A journey compiled for the cycle: conditions parsed, steps flattened into a program.

Nested ``if``/``then``/``else`` blocks become one flat list of instructions, each with
the index of the instruction that follows it (``next``; a branch also has ``else_next``).
Every jump goes forward, so one pass over the instructions in index order advances every
enrollment as far as it can go in one cycle. An enrollment's position is the index of its
current instruction; reaching ``len(program)`` completes the journey. The index is also
what makes a step unique per enrollment (and part of its ledger idempotency key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.builtin.actions import SendParams
from core.expr import Expr, ExprSyntaxError, check, feature_names, parse
from core.journeys.durations import parse_duration
from core.journeys.model import JourneyModel, Step, reentry_seconds
from core.vocabulary import FeatureType

# Values about the enrollment itself, usable in exit_when, stop_when, wait_until and if.
JOURNEY_VARIABLES: dict[str, tuple[FeatureType, str]] = {
    "days_in_journey": (FeatureType.NUMBER, "Days since the customer entered the journey."),
    "purchases_since_enrollment": (
        FeatureType.NUMBER,
        "Purchases since the customer entered the journey.",
    ),
    "spend_since_enrollment": (
        FeatureType.NUMBER,
        "Purchase value minus refunds since entering the journey (minor units).",
    ),
}

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Instruction:
    """One flattened step. ``path`` locates it in the YAML (``steps[2].then[0]``)."""

    index: int
    kind: str  # send | wait | wait_until | if
    path: Loc
    next: int
    else_next: int | None = None  # if: where a false condition goes
    seconds: int | None = None  # wait: its duration; wait_until: its timeout
    condition: Expr | None = None  # wait_until, if
    send: SendParams | None = None

    @property
    def label(self) -> str:
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path).lstrip(".")


@dataclass(frozen=True)
class Journey:
    """A validated journey, ready for the cycle stage."""

    id: str
    description: str
    enroll: Expr
    exit: Expr | None
    stop: Expr | None
    program: tuple[Instruction, ...]
    holdout_percent: int
    reentry_seconds: int | None  # None: never re-enter
    category: str
    priority: int
    enabled: bool

    @property
    def rule_id(self) -> str:
        """What the ledger rows of its messages carry as rule_id (no rule id contains ':')."""
        return f"journey:{self.id}"


def _size(steps: Sequence[Step]) -> int:
    return sum(1 + _size(s.then or ()) + _size(s.else_ or ()) for s in steps)


def flatten(
    steps: Sequence[Step], path: Loc, start: int, after: int, conditions: Mapping[Loc, Expr]
) -> list[Instruction]:
    """The instructions of ``steps`` placed from ``start``; the last one continues at ``after``."""
    out: list[Instruction] = []
    position = start
    for i, step in enumerate(steps):
        here: Loc = (*path, i)
        size = 1 + _size(step.then or ()) + _size(step.else_ or ())
        following = position + size if i < len(steps) - 1 else after
        kind = step.kind
        if kind == "if":
            then_start = position + 1
            else_start = then_start + _size(step.then or ())
            out.append(
                Instruction(
                    position,
                    kind,
                    here,
                    next=then_start,
                    else_next=else_start if step.else_ else following,
                    condition=conditions.get((*here, "if")),
                )
            )
            out += flatten(step.then or (), (*here, "then"), then_start, following, conditions)
            out += flatten(step.else_ or (), (*here, "else"), else_start, following, conditions)
        elif kind == "send":
            out.append(Instruction(position, kind, here, following, send=step.send))
        elif kind == "wait":
            assert step.wait is not None
            out.append(
                Instruction(position, kind, here, following, seconds=parse_duration(step.wait))
            )
        else:
            assert step.timeout is not None
            out.append(
                Instruction(
                    position,
                    kind,
                    here,
                    following,
                    seconds=parse_duration(step.timeout),
                    condition=conditions.get((*here, "wait_until")),
                )
            )
        position += size
    return out


def conditions_of(model: JourneyModel) -> dict[Loc, str]:
    """Every condition text of a journey by its location (``("steps", 2, "if")`` ...)."""
    found: dict[Loc, str] = {("enroll_when",): model.enroll_when}
    if model.exit_when is not None:
        found[("exit_when",)] = model.exit_when
    if model.stop_when is not None:
        found[("stop_when",)] = model.stop_when

    def walk(steps: Sequence[Step], path: Loc) -> None:
        for i, step in enumerate(steps):
            if step.wait_until is not None:
                found[(*path, i, "wait_until")] = step.wait_until
            if step.if_ is not None:
                found[(*path, i, "if")] = step.if_
                walk(step.then or (), (*path, i, "then"))
                walk(step.else_ or (), (*path, i, "else"))

    walk(model.steps, ("steps",))
    return found


def parse_conditions(
    model: JourneyModel, features: Mapping[str, FeatureType] | None
) -> tuple[dict[Loc, Expr], list[tuple[Loc, str]]]:
    """Parse and type-check every condition; ``enroll_when`` sees features only.

    ``features`` None parses without type checks (a rule set validated already).
    """
    variables = {k: t for k, (t, _d) in JOURNEY_VARIABLES.items()}
    parsed: dict[Loc, Expr] = {}
    problems: list[tuple[Loc, str]] = []
    for loc, text in conditions_of(model).items():
        try:
            expr = parse(text)
        except ExprSyntaxError as exc:
            problems.append((loc, exc.message))
            continue
        if features is None:
            parsed[loc] = expr
            continue
        found = [p.message for p in check(expr, {**features, **variables})]
        if loc == ("enroll_when",):
            found += [
                f"'{name}' is about an enrollment, so it cannot decide one: use it in "
                "exit_when, stop_when, wait_until or if"
                for name in sorted(set(feature_names(expr)) & set(variables) - set(features))
            ]
        problems += [(loc, message) for message in found]
        if not found:
            parsed[loc] = expr
    return parsed, problems


def compile_journey(model: JourneyModel, features: Mapping[str, FeatureType] | None) -> Journey:
    """The journey for the cycle; raises ValueError if a condition does not check."""
    conditions, problems = parse_conditions(model, features)
    if problems:
        loc, message = problems[0]
        raise ValueError(f"journey '{model.id}' {'.'.join(map(str, loc))}: {message}")
    total = _size(model.steps)
    program = tuple(flatten(model.steps, ("steps",), 0, total, conditions))
    return Journey(
        id=model.id,
        description=model.description,
        enroll=conditions[("enroll_when",)],
        exit=conditions.get(("exit_when",)),
        stop=conditions.get(("stop_when",)),
        program=program,
        holdout_percent=model.holdout_percent,
        reentry_seconds=reentry_seconds(model.reentry),
        category=model.category,
        priority=model.priority,
        enabled=model.enabled,
    )


def send_args(params: SendParams) -> dict[str, Any]:
    """The ledger ``args`` of a send step: exactly what a rule's send action records."""
    return params.model_dump(mode="json")


__all__ = [
    "JOURNEY_VARIABLES",
    "Instruction",
    "Journey",
    "compile_journey",
    "conditions_of",
    "flatten",
    "parse_conditions",
    "send_args",
]
