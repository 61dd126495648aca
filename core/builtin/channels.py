"""The core channels, and the commands that operate delivery.

Channels (see :mod:`core.channels`): ``file`` (the default for demos and dry runs),
``email``, ``webhook``, ``sms`` and ``task``. Commands: ``patron daemon`` (schedules and
continuous delivery), ``patron release`` (blast-radius holds), ``patron tasks`` (staff tasks).
"""

from __future__ import annotations

import click

from core.channels.email import EmailChannelSettings, make_email_channel
from core.channels.file import (
    FILE,
    FileChannel,
    FileChannelSettings,
    format_message,
    outbox_file_name,
)
from core.channels.sms import SmsChannelSettings, make_sms_channel
from core.channels.task import TaskChannelSettings, make_task_channel
from core.channels.webhook import WebhookChannelSettings, make_webhook_channel
from core.hookspecs import hookimpl
from core.vocabulary import ChannelType

EMAIL = ChannelType(
    name="email",
    description="E-mail over SMTP (STARTTLS, implicit TLS, AUTH) with persistent pooled "
    "connections; plain text and HTML; List-Unsubscribe on marketing.",
    settings=EmailChannelSettings,
    factory=make_email_channel,
    consent_key="email",
)
WEBHOOK = ChannelType(
    name="webhook",
    description="HTTP POST of a JSON body rendered from a template (IM bots, CRM systems).",
    settings=WebhookChannelSettings,
    factory=make_webhook_channel,
    consent_key=None,
)
SMS = ChannelType(
    name="sms",
    description="Text messages through an HTTP SMS gateway (URL, auth header, body template).",
    settings=SmsChannelSettings,
    factory=make_sms_channel,
    consent_key="sms",
)
TASK = ChannelType(
    name="task",
    description="Store a task for staff (an account manager, a supervisor); listed by "
    "`patron tasks`, optionally announced by e-mail.",
    settings=TaskChannelSettings,
    factory=make_task_channel,
    consent_key=None,
)


@hookimpl
def patron_channel_types() -> list[ChannelType]:
    return [FILE, EMAIL, WEBHOOK, SMS, TASK]


@hookimpl
def patron_commands() -> list[click.Command]:
    from core.cli import daemon, release, tasks

    return [*daemon.COMMANDS, *release.COMMANDS, *tasks.COMMANDS]


__all__ = [
    "EMAIL",
    "FILE",
    "SMS",
    "TASK",
    "WEBHOOK",
    "FileChannel",
    "FileChannelSettings",
    "format_message",
    "outbox_file_name",
]
