"""Who a message goes to: the customer, the customer's account manager, or a staff role.

``send: {to: ...}`` in a rule picks the recipient; the message is still *about* the
customer (the template sees ``customer``), but it is addressed to staff::

    - send: {channel: task, template: service/complaint_overdue_staff, to: supervisor}
    - send: {channel: email, template: service/vip_visit, to: account_manager}

Staff roles are defined under ``staff:`` in patron.yaml. A customer's ``account_manager``
field may hold a staff role, a staff member's name, or an e-mail address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config import RESERVED_RECIPIENTS, STAFF_ROLE_PATTERN, StaffMember
from core.suggest import did_you_mean

ACCOUNT_MANAGER = "account_manager"


@dataclass(frozen=True)
class Recipient:
    """The addressee of one message.

    ``record`` is what a channel's ``address_of`` reads: the customer row itself, or for
    staff ``{external_id, name, email, phone, assignee, locale}`` (``assignee`` names the
    task owner). Messages to staff are rendered in the staff member's locale.
    """

    kind: str  # "customer" or "staff"
    record: Mapping[str, Any]
    label: str  # for logs and reasons: "customer", "supervisor", "account manager 'Chen'"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


def staff_contact(name: str, staff: Mapping[str, StaffMember]) -> StaffMember | None:
    """The staff member a role key, a member's name or an e-mail address designates."""
    if name in staff:
        return staff[name]
    for member in staff.values():
        if member.name == name or (member.email and member.email.lower() == name.lower()):
            return member
    if "@" in name:
        return StaffMember(name=name, email=name)
    return None


def _staff_record(assignee: str, member: StaffMember | None) -> dict[str, Any]:
    return {
        "external_id": assignee,
        "name": member.name if member else assignee,
        "email": member.email if member else None,
        "phone": member.phone if member else None,
        "assignee": assignee,
        "account_manager": assignee,
        "locale": member.locale if member else None,
    }


def resolve_recipient(
    to: str | None, customer: Mapping[str, Any], staff: Mapping[str, StaffMember]
) -> Recipient | str:
    """The recipient of ``send: {to: to}`` for this customer, or why there is none.

    The reason is a suppression reason (``no account manager``) or, for a role that is no
    longer configured, a failure message starting with ``staff role``.
    """
    if to is None or to == "customer":
        return Recipient("customer", customer, "customer")
    if to == ACCOUNT_MANAGER:
        manager = customer.get(ACCOUNT_MANAGER)
        if not manager:
            return "no account manager"
        member = staff_contact(str(manager), staff)
        return Recipient(
            "staff", _staff_record(str(manager), member), f"account manager '{manager}'"
        )
    member = staff.get(to)
    if member is None:
        return f"staff role '{to}' is not configured under staff: in patron.yaml"
    return Recipient("staff", _staff_record(to, member), to)


def recipient_problem(to: str | None, staff: Mapping[str, StaffMember]) -> str | None:
    """What is wrong with ``to:`` in a rule, for ``patron check`` (None when fine).

    Roles are a deployment's vocabulary: while ``staff:`` is empty any well-formed role
    passes here (``patron daemon --check-config`` lists the roles still to define).
    """
    if to is None or to in RESERVED_RECIPIENTS or to in staff:
        return None
    if not staff:
        if re.fullmatch(STAFF_ROLE_PATTERN, to):
            return None
        return f"'{to}' is not a staff role name: use lowercase letters, digits, '-' and '_'"
    choices = [ACCOUNT_MANAGER, *staff]
    hint = did_you_mean(to, choices)
    known = ", ".join(sorted(staff)) or "none defined yet"
    return (
        f"unknown recipient '{to}'{hint}: use account_manager or a staff role under "
        f"staff: in patron.yaml ({known})"
    )


__all__ = [
    "ACCOUNT_MANAGER",
    "Recipient",
    "recipient_problem",
    "resolve_recipient",
    "staff_contact",
]
