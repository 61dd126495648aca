"""`patron explain` for a terminal: the customer, the features, then every rule's story."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.explain.model import Explanation, JourneyState, LedgerRow, RuleVerdict
from core.expr.trace import TraceNode, show
from core.timeparse import show_instant

MARK = {"fired": "✓", "already_fired": "=", "would_fire": "→", "not_due": "…"}
LABEL = {
    "fired": "FIRED",
    "already_fired": "ALREADY FIRED",
    "would_fire": "WOULD FIRE",
    "not_due": "NOT DUE",
    "not_matched": "not matched",
    "disabled": "disabled",
}


def render_text(found: Explanation, *, all_features: bool = True) -> str:
    zone = ZoneInfo(found.timezone)
    c = found.customer
    lines = [
        f"customer {c['external_id']}  {c['name'] or '(no name)'}",
        f"  email {c['email'] or '-'}  phone {c['phone'] or '-'}  locale {c['locale'] or '-'}"
        f"  time zone {c['timezone'] or '-'}",
        f"  consent {_consent(c['consent'])}  account manager {c['account_manager'] or '-'}",
        f"as of {show_instant(found.as_of, zone)}",
        "",
        "features",
    ]
    shown = found.features if all_features else _used(found)
    width = max((len(name) for name in shown), default=0)
    lines += [f"  {name:<{width}}  {_value(found.features[name])}" for name in sorted(shown)]
    lines += ["", "rules"]
    for verdict in found.rules:
        lines += _rule(verdict, zone)
    if found.journeys:
        lines += ["", "journeys"]
        lines += [_journey(j, zone) for j in found.journeys]
    if found.other_messages:
        lines += ["", "other messages (journey steps, escalations)"]
        lines += [f"  {row.rule_id}: {_firing(row, zone)}" for row in found.other_messages]
    return "\n".join(lines)


def _used(found: Explanation) -> set[str]:
    """The features the shown rules' conditions read."""
    names: set[str] = set()

    def walk(node: TraceNode) -> None:
        if not node.children and node.text in found.features:
            names.add(node.text)
        for child in node.children:
            walk(child)

    for verdict in found.rules:
        walk(verdict.condition)
    return names


def _consent(consent: object) -> str:
    if not isinstance(consent, dict) or not consent:
        return "-"
    return ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in sorted(consent.items()))


def _rule(verdict: RuleVerdict, zone: ZoneInfo) -> list[str]:
    mark = MARK.get(verdict.outcome, "✗")
    lines = [
        f"{mark} {verdict.rule_id}  {LABEL[verdict.outcome]}  ({verdict.where})",
        f"    {verdict.detail}",
        f"    schedule {verdict.schedule}; once_per {verdict.once_per}",
        "    when",
    ]
    lines += _condition(verdict.condition, 3)
    if verdict.firings:
        lines.append("    actions")
        lines += [f"      {_firing(row, zone)}" for row in verdict.firings]
    return lines


def _value(value: object) -> str:
    """A value as the expression language writes it; fractions of days to two places."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return show(value)


def _condition(node: TraceNode, depth: int) -> list[str]:
    """Each sub-expression with its value; the parts that are not true are flagged ✗."""
    failed = node.children and (node.value is False or node.value is None)
    lines = [f"{'  ' * depth}{node.text} → {_value(node.value)}{'   ✗' if failed else ''}"]
    for child in node.children:
        if not child.children and child.text == show(child.value):
            continue  # a literal: its value is its text
        lines += _condition(child, depth + 1)
    return lines


def _firing(row: LedgerRow, zone: ZoneInfo) -> str:
    what = row.action
    if row.channel:
        what += f" {row.channel}"
    if row.to:
        what += f" to {row.to}"
    return f"#{row.id} {what}: {_status(row, zone)}"


def _status(row: LedgerRow, zone: ZoneInfo) -> str:
    if row.status == "sent":
        return f"sent {show_instant(row.sent_at, zone)}" if row.sent_at else "sent"
    if row.status == "suppressed":
        return f"suppressed: {row.reason or 'no reason recorded'}"
    if row.status == "failed":
        return f"failed after {row.attempts} attempt(s): {row.error or 'no error recorded'}"
    if row.status == "pending":
        waiting = f" (waiting: {row.reason})" if row.reason else ""
        tries = f", {row.attempts} attempt(s) so far: {row.error}" if row.attempts else ""
        return f"pending{waiting}{tries}"
    return row.status


def _journey(state: JourneyState, zone: ZoneInfo) -> str:
    arm = "holdout: measured, gets no messages" if state.arm == "holdout" else state.arm
    text = (
        f"  {state.journey_id} (enrollment #{state.enrollment_id}, {arm}): {state.status}, "
        f"enrolled {show_instant(state.enrolled_at, zone)}"
    )
    if state.status == "active":
        return text + f", step {state.step} due {show_instant(state.step_due_at, zone)}"
    return text + (f", ended {show_instant(state.ended_at, zone)}" if state.ended_at else "")
