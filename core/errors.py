"""One exception tree for patron.

::

    PatronError                      anything patron raises on purpose
    ├── UserError                    an operator can fix it; the CLI prints it plainly, no traceback
    │   ├── ConfigError              patron.yaml or an environment override is wrong
    │   ├── RuleProblems             rule files failed validation (carries every Problem found)
    │   ├── TemplateError            a template is missing or broken
    │   ├── ImportProblems           an import finished with rejected rows (good rows are kept)
    │   ├── StoreError               the store cannot be opened or is at a newer schema
    │   └── NotFound                 a customer, rule or template named on the command line
    ├── PluginError                  a plugin developer's mistake (duplicate names, bad hook result)
    └── DeliveryError                a channel failed to deliver one message
        ├── TransientDeliveryError   retry later (connection refused, SMTP 4xx, HTTP 5xx)
        │   └── ChannelUnavailable   the channel itself is down (no connection, AUTH refused)
        └── PermanentDeliveryError   do not retry (invalid address, SMTP 5xx, HTTP 4xx)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PatronError(Exception):
    """Base of every error patron raises on purpose."""


class UserError(PatronError):
    """An error the operator can fix; shown without a traceback."""


class ConfigError(UserError):
    """patron.yaml or an environment override is invalid."""


class StoreError(UserError):
    """The store cannot be opened, created or upgraded."""


class NotFound(UserError):
    """Something named by the operator does not exist."""


class TemplateError(UserError):
    """A message template is missing or cannot be rendered."""


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about an operator's file, located as precisely as we can.

    ``str(problem)`` is the line an operator reads, for example::

        rules/churn.yaml:14: rule 'vip-winback' → when: unknown feature 'tierr' (did you mean 'tier'?)
    """

    file: str
    line: int | None
    message: str
    rule: str | None = None
    key: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        subject = f" rule '{self.rule}' →" if self.rule else ""
        key = f" {self.key}:" if self.key else ""
        prefix = "" if self.severity == "error" else f" {self.severity}:"
        return f"{where}:{prefix}{subject}{key} {self.message}"


class ProblemsError(UserError):
    """Carries every problem found in one run, so the operator fixes them all at once."""

    def __init__(self, problems: Sequence[Problem], summary: str = "") -> None:
        self.problems = list(problems)
        errors = sum(1 for p in self.problems if p.severity == "error")
        self.summary = summary or f"{errors} error(s)"
        super().__init__("\n".join(str(p) for p in self.problems))


class RuleProblems(ProblemsError):
    """Rule files failed validation."""


class ImportProblems(ProblemsError):
    """Some rows of an import file were rejected (the good rows are stored)."""


class PluginError(PatronError):
    """A plugin registered something invalid or conflicting."""


class DeliveryError(PatronError):
    """A channel could not deliver one message."""


class TransientDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass; the outbox retries with backoff."""


class PermanentDeliveryError(DeliveryError):
    """Delivery can never succeed as addressed; the row is marked failed with the reason."""


class ChannelUnavailable(TransientDeliveryError):
    """The channel cannot send anything now (server unreachable, AUTH refused).

    The outbox stops trying that channel for the rest of the run: its other messages are
    retried later without contacting it again.
    """
