"""The core actions: ``send`` a templated message through a channel.

``send`` takes ``channel`` and ``template``, and optionally ``to``: ``account_manager``
(the customer's) or a staff role from ``staff:`` in patron.yaml; the message is then
about the customer but addressed to staff. ``patron check`` names an unknown role, and
a template too long for the SMS gateway's ``max_length``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.config import Settings
from core.delivery.checks import channel_problems
from core.delivery.recipients import recipient_problem
from core.hookspecs import hookimpl
from core.suggest import did_you_mean
from core.vocabulary import ActionKind, ActionParams, ActionType, CheckEnv


class SendParams(ActionParams):
    """Arguments of ``send``."""

    channel: str = Field(description="A configured channel: file, email, webhook, sms, task ...")
    template: str = Field(
        description="Template name without locale and suffix, e.g. care/birthday "
        "(templates/care/birthday.<locale>.j2)"
    )
    to: str | None = Field(
        default=None,
        description="Recipient other than the customer: 'account_manager' (the customer's) or a "
        "staff role named under staff: in patron.yaml (e.g. supervisor). Default: the customer.",
    )


def check_send(params: Any, env: CheckEnv) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if params.channel not in env.channel_names:
        problems.append(
            (
                "channel",
                f"unknown channel '{params.channel}'{did_you_mean(params.channel, env.channel_names)}",
            )
        )
    problems.extend(
        ("template", message) for message in env.template_problems(params.template, params.channel)
    )
    settings: Settings | None = getattr(env, "settings", None)
    if settings is not None:
        if (message := recipient_problem(params.to, settings.staff)) is not None:
            problems.append(("to", message))
        problems.extend(channel_problems(env, params, settings))
    return problems


SEND = ActionType(
    name="send",
    params=SendParams,
    description="Render a template in the customer's locale and deliver it through a channel. "
    "The ledger row is written first; delivery happens after the cycle commits.",
    kind=ActionKind.MESSAGE,
    example="send: {channel: email, template: care/birthday}\n"
    "send: {channel: task, template: service/complaint_overdue_staff, to: supervisor}",
    check=check_send,
)


@hookimpl
def patron_action_types() -> list[ActionType]:
    return [SEND]
