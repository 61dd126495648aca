"""The format of a rule test file (``*.test.yaml``), validated with ``extra="forbid"``.

```yaml
rules: [../care.yaml]               # rule files or folders, relative to this file
settings:                           # patron.yaml keys to override for this test
  delivery: {caps: [{category: marketing, max: 1, per: 7d}]}
customers:
  - {external_id: ann, name: Ann, email: ann@example.com, locale: en, birthday: 1990-11-23}
events:
  - {customer: ann, type: purchase, at: 2026-11-20T10:00, amount: 58.00}
steps:
  - at: 2026-11-23T09:00           # a cycle and a delivery run at this instant
    fires: {birthday-greeting: [ann]}
    not_fires: {winback: [ann]}
    messages:
      - {rule: birthday-greeting, customer: ann, contains: "Happy birthday"}
    suppressed:
      - {rule: birthday-greeting, customer: bo, reason: no email address}
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventSpec(Strict):
    customer: str
    type: str
    at: str = Field(description="When it happened (ISO; in the configured zone without offset).")
    amount: str | float | int | None = Field(default=None, description="Major units, e.g. 58.00")
    value: int | None = None
    ref: str | None = None
    payload: dict[str, Any] | None = None


class MessageCheck(Strict):
    rule: str
    customer: str
    contains: str | list[str] = Field(description="Text the rendered subject or body contains.")


class SuppressedCheck(Strict):
    rule: str
    customer: str
    reason: str = Field(description="Text the suppression reason contains.")


class Step(Strict):
    name: str | None = None
    at: str = Field(description="The instant of the cycle (ISO; configured zone without offset).")
    fires: dict[str, list[str]] = Field(
        default_factory=dict, description="rule → exactly the customers it fires for now."
    )
    not_fires: dict[str, list[str]] = Field(
        default_factory=dict, description="rule → customers it must not fire for now."
    )
    messages: list[MessageCheck] = Field(default_factory=list)
    suppressed: list[SuppressedCheck] = Field(default_factory=list)


class RuleTestFile(Strict):
    rules: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    customers: list[dict[str, Any]] = Field(
        default_factory=list, description="Rows as `patron import customers` reads them."
    )
    events: list[EventSpec] = Field(default_factory=list)
    steps: list[Step]
