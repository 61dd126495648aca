"""Journeys compile to a flat program whose jumps all go forward."""

from __future__ import annotations

from core.journeys.model import JourneyModel
from core.journeys.program import compile_journey
from core.registry import Registry


def journey(steps: list[object]) -> JourneyModel:
    return JourneyModel.model_validate(
        {
            "id": "j",
            "enroll_when": "purchase_count > 0",
            "exit_when": "purchases_since_enrollment > 0",
            "category": "marketing",
            "steps": steps,
        }
    )


def test_nested_branches_flatten_with_forward_jumps(registry: Registry) -> None:
    send = {"send": {"channel": "file", "template": "t/a"}}
    model = journey(
        [
            send,  # 0
            {"wait": "7d"},  # 1
            {  # 2
                "if": "spend_total > 100",
                "then": [send, {"if": "has_email", "then": [send]}],  # 3, 4, 5
                "else": [{"wait_until": "days_in_journey >= 10", "timeout": "3d"}],  # 6
            },
            send,  # 7
        ]
    )
    program = compile_journey(model, registry.feature_types()).program
    shape = [(i.index, i.kind, i.next, i.else_next, i.label) for i in program]
    assert shape == [
        (0, "send", 1, None, "steps[0]"),
        (1, "wait", 2, None, "steps[1]"),
        (2, "if", 3, 6, "steps[2]"),
        (3, "send", 4, None, "steps[2].then[0]"),
        (4, "if", 5, 7, "steps[2].then[1]"),
        (5, "send", 7, None, "steps[2].then[1].then[0]"),
        (6, "wait_until", 7, None, "steps[2].else[0]"),
        (7, "send", 8, None, "steps[3]"),
    ]
    assert all(i.next > i.index and (i.else_next or 99) > i.index for i in program)
    assert (program[1].seconds, program[6].seconds) == (7 * 86400, 3 * 86400)


def test_an_if_without_else_continues_after_the_block(registry: Registry) -> None:
    model = journey([{"if": "has_email", "then": [{"wait": "1d"}]}])
    program = compile_journey(model, registry.feature_types()).program
    assert [(i.kind, i.next, i.else_next) for i in program] == [("if", 1, 2), ("wait", 2, None)]


def test_reentry_and_holdout_are_compiled(registry: Registry) -> None:
    model = journey([{"wait": "1d"}]).model_copy(
        update={"reentry": "after 90d", "holdout_percent": 15}
    )
    compiled = compile_journey(model, registry.feature_types())
    assert (compiled.reentry_seconds, compiled.holdout_percent) == (90 * 86400, 15)
    assert compiled.rule_id == "journey:j"
