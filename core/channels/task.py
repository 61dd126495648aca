"""The ``task`` channel: a staff task stored in the ``staff_tasks`` table.

Rules hand work to people: an overdue complaint goes to a supervisor, a VIP who went
quiet to their account manager::

    - send: {channel: task, template: service/complaint_overdue_staff, to: supervisor}
    - send: {channel: task, template: churn/vip_call, to: account_manager}

The template's subject becomes the task title and its body the task text. Without
``to:`` a task goes to the customer's account manager. ``patron tasks`` lists open
tasks and ``patron tasks done ID`` closes one. A task is keyed by its ledger row, so a
repeated delivery never creates a second one. With ``announce: email`` the assignee
also gets an e-mail (a staff role's ``email``, or an account manager given as an
address)::

    channels:
      task: {announce: email, due_in: 1d}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Index, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field as ColumnField
from sqlmodel import SQLModel

from core.config import Duration, Settings
from core.delivery.recipients import staff_contact
from core.store import LedgerEntry, Store
from core.store.tables import BigId, table_of
from core.vocabulary import Channel, OutgoingMessage


class StaffTask(SQLModel, table=True):
    """A piece of work for a person, created by a rule's ``send: {channel: task}``."""

    __tablename__ = "staff_tasks"
    __table_args__ = (Index("ix_staff_tasks_status_assignee", "status", "assignee"),)

    id: int | None = ColumnField(default=None, primary_key=True, sa_type=BigId)
    ledger_id: int = ColumnField(unique=True, sa_type=BigInteger, description="one task per firing")
    rule_id: str = ColumnField(max_length=128)
    customer_id: int = ColumnField(foreign_key="customers.id")
    assignee: str = ColumnField(max_length=128, description="a staff role or an account manager")
    title: str = ColumnField(max_length=512)
    body: str
    created_at: int = ColumnField(sa_type=BigInteger, description="the firing's instant")
    due_at: int | None = ColumnField(default=None, sa_type=BigInteger)
    status: str = ColumnField(default="open", max_length=16)
    done_at: int | None = ColumnField(default=None, sa_type=BigInteger)
    note: str | None = None


class TaskChannelSettings(BaseModel):
    """Settings of the ``task`` channel (all optional)."""

    model_config = ConfigDict(extra="forbid")

    announce: str | None = Field(
        default=None, description="Also tell the assignee through this channel (email)."
    )
    due_in: Duration = Field(default=86400, description="Due this long after the firing.")
    default_assignee: str | None = Field(
        default=None,
        description="Owner of tasks for customers without an account manager (a staff role).",
    )


tasks = table_of(StaffTask)
ledger = table_of(LedgerEntry)


class TaskChannel:
    """Stores each message as a staff task; needs the store (see :meth:`attach`)."""

    name = "task"
    address_field = "account_manager"

    def __init__(self, settings: TaskChannelSettings, patron_settings: Settings) -> None:
        self.settings = settings
        self.staff = patron_settings.staff
        self.store: Store | None = None
        self.announcer: Channel | None = None

    default_to = "account_manager"  # without `to:`, a task goes to the account manager

    @property
    def fallback_to(self) -> str | None:
        """Who gets tasks of customers without an account manager (a staff role)."""
        return self.settings.default_assignee

    def attach(self, store: Store, channels: Mapping[str, Channel]) -> None:
        """Called by the outbox before sending: the store, and the other channels."""
        self.store = store
        if self.settings.announce:
            self.announcer = channels.get(self.settings.announce)

    def address_of(self, customer: dict[str, Any]) -> str | None:
        value = customer.get("assignee") or customer.get("account_manager")
        return str(value) if value else None

    async def send(self, message: OutgoingMessage) -> None:
        if self.store is None:
            raise RuntimeError("the task channel was not attached to a store")
        row = select(
            literal(message.ledger_id).label("ledger_id"),
            ledger.c.rule_id,
            ledger.c.customer_id,
            literal(message.to).label("assignee"),
            literal(message.subject[:512] or message.body.split("\n", 1)[0][:512]).label("title"),
            literal(message.body).label("body"),
            ledger.c.created_at,
            (ledger.c.created_at + self.settings.due_in).label("due_at"),
            literal("open").label("status"),
        ).where(ledger.c.id == message.ledger_id)
        with self.store.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = (
                insert(tasks)
                .from_select([c.name for c in row.selected_columns], row)
                .on_conflict_do_nothing(index_elements=["ledger_id"])
            )
            conn.execute(statement)
        await self._announce(message)

    async def _announce(self, message: OutgoingMessage) -> None:
        if self.announcer is None:
            return
        member = staff_contact(message.to, self.staff)
        address = member.email if member else None
        if not address:
            return
        digest = hashlib.sha256(f"{message.idempotency_key}/task".encode()).hexdigest()[:32]
        await self.announcer.send(
            OutgoingMessage(
                ledger_id=message.ledger_id,
                idempotency_key=f"{message.idempotency_key}/task",
                message_id=f"<{digest}@patron>",
                channel=self.announcer.name,
                to=address,
                subject=f"[task] {message.subject}",
                body=message.body,
                headers={**message.headers, "X-Patron-Task": str(message.ledger_id)},
                customer_external_id=message.customer_external_id,
                rule_id=message.rule_id,
                locale=message.locale,
            )
        )

    async def close(self) -> None:
        return None


def make_task_channel(settings: BaseModel, patron_settings: Settings) -> Channel:
    assert isinstance(settings, TaskChannelSettings)
    return TaskChannel(settings, patron_settings)


__all__ = ["StaffTask", "TaskChannel", "TaskChannelSettings", "make_task_channel"]
