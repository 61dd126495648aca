"""What a ``journeys:`` section may contain (pydantic), for the schema layer.

::

    journeys:
      - id: vip-winback
        description: A high-risk VIP hears from their account manager, then gets a coupon.
        enroll_when: churn_band == "high" and spend_total >= 500000
        exit_when: purchases_since_enrollment > 0        # a conversion
        stop_when: open_complaints > 0                   # leave without converting
        holdout_percent: 10
        reentry: after 180d                              # or never (the default)
        category: marketing
        priority: 30
        steps:
          - send: {channel: email, template: churn/vip_personal_note}
          - wait: 7d
          - if: churn_reason == "complaints"
            then:
              - send: {channel: email, template: churn/apology_compensation}
            else:
              - send: {channel: email, template: churn/vip_coupon}
          - wait_until: purchases_since_enrollment > 0
            timeout: 14d

A step is exactly one of ``send`` (the arguments of the ``send`` action), ``wait`` (a
duration), ``wait_until`` (a condition, with a ``timeout``) or ``if`` (a condition, with
``then`` steps and optional ``else`` steps).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from core.builtin.actions import SendParams
from core.journeys.durations import parse_duration
from core.rules.model import RULE_ID_PATTERN, Category

STEP_KINDS = ("send", "wait", "wait_until", "if")
_REENTRY = re.compile(r"after\s+(\S+)", re.IGNORECASE)
REENTRY_HELP = "use never, or after and a cool-down such as 'after 90d'"


def reentry_seconds(text: str) -> int | None:
    """None for ``never``, else the cool-down in seconds of ``after 90d``; ValueError otherwise."""
    word = text.strip()
    if word.lower() == "never":
        return None
    match = _REENTRY.fullmatch(word)
    if match is None:
        raise ValueError(f"'{text}' is not a re-entry policy: {REENTRY_HELP}")
    return parse_duration(match.group(1), allow_zero=True)


class Step(BaseModel):
    """One step of a journey: send, wait, wait_until (+ timeout) or if (+ then, else)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    send: SendParams | None = Field(
        default=None, description="Send a templated message: {channel, template[, to]}."
    )
    wait: str | None = Field(default=None, description="Wait this long: 30m, 12h, 7d, 2w.")
    wait_until: str | None = Field(
        default=None, description="Wait until this condition holds (or the timeout passes)."
    )
    timeout: str | None = Field(default=None, description="How long wait_until waits at most.")
    if_: str | None = Field(default=None, alias="if", description="A condition to branch on.")
    then: list[Step] | None = Field(default=None, description="Steps when the condition holds.")
    else_: list[Step] | None = Field(
        default=None, alias="else", description="Steps otherwise (optional)."
    )

    @field_validator("wait", "timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k, v in zip(STEP_KINDS, self.parts(), strict=True) if v is not None]
        if len(kinds) != 1:
            found = f"; found {', '.join(kinds)}" if kinds else ""
            raise ValueError(
                "a step is one of: send, wait, wait_until (with timeout), if (with then)" + found
            )
        kind = kinds[0]
        if kind == "wait_until" and self.timeout is None:
            raise ValueError("wait_until needs a timeout, e.g. 'timeout: 14d'")
        if kind != "wait_until" and self.timeout is not None:
            raise ValueError("timeout belongs to wait_until")
        if kind == "if" and not self.then:
            raise ValueError("if needs then: with at least one step")
        if kind != "if" and (self.then is not None or self.else_ is not None):
            raise ValueError("then and else belong to if")
        return self

    def parts(self) -> tuple[Any, ...]:
        return (self.send, self.wait, self.wait_until, self.if_)

    @property
    def kind(self) -> str:
        return next(k for k, v in zip(STEP_KINDS, self.parts(), strict=True) if v is not None)


class JourneyModel(BaseModel):
    """One journey as written in YAML."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID_PATTERN, description="Unique among journeys.")
    description: str = Field(default="", description="What the journey is for.")
    enroll_when: str = Field(description="Condition over features that enrolls a customer.")
    exit_when: str | None = Field(
        default=None,
        description="Condition that ends the journey as a conversion (time and amount recorded).",
    )
    stop_when: str | None = Field(
        default=None, description="Condition that ends the journey without a conversion."
    )
    steps: list[Step] = Field(min_length=1, description="The steps, in order.")
    holdout_percent: int = Field(
        default=0,
        ge=0,
        le=100,
        strict=True,
        description="Share of enrolled customers (by a stable hash) who get no messages.",
    )
    reentry: str = Field(
        default="never", description="never, or 'after 90d': a cool-down after the journey ended."
    )
    category: Category = Field(description="care, service, marketing, loyalty or transactional.")
    priority: int = Field(default=100, strict=True, description="Lower numbers deliver first.")
    enabled: bool = Field(default=True, strict=True, description="false pauses the journey.")

    @field_validator("reentry")
    @classmethod
    def _reentry(cls, value: str) -> str:
        reentry_seconds(value)
        return value


class JourneysSection(RootModel[list[JourneyModel]]):
    """The ``journeys:`` section: a list of journeys."""


__all__ = [
    "STEP_KINDS",
    "JourneyModel",
    "JourneysSection",
    "Step",
    "reentry_seconds",
]
