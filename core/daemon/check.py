"""``patron daemon --check-config``: everything the daemon needs, checked before it starts.

patron.yaml itself was validated when it was loaded. This adds what only makes sense
together: the store answers, every channel's settings are valid and the environment
variables they name are set, ``staff:`` has every role the rules address, the guards
name real channels and rules, and the rules and templates pass ``patron check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.app import App
from core.delivery.channels import channel_settings
from core.errors import ConfigError, PatronError
from core.rules import RuleSet
from core.store.engine import safe_url


@dataclass(frozen=True)
class Finding:
    level: str  # "ok", "warning" or "error"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


_SECRET_KEYS = ("password_env", "auth_env", "url_env")


def check_config(app: App) -> list[Finding]:
    """Every finding, in the order an operator fixes things."""
    import os

    settings = app.settings
    found: list[Finding] = []
    try:
        store = app.store
        found.append(Finding("ok", f"store {safe_url(store.url)} ({store.dialect})"))
    except PatronError as exc:
        found.append(Finding("error", str(exc)))
    try:
        configured = channel_settings(app.registry, settings)
    except ConfigError as exc:
        found.extend(Finding("error", line) for line in str(exc).splitlines())
        configured = {}
    for name, model in sorted(configured.items()):
        for key in _SECRET_KEYS:
            variable = getattr(model, key, None)
            if variable and variable not in os.environ:
                found.append(
                    Finding(
                        "error",
                        f"channels.{name}.{key}: environment variable {variable} is not set",
                    )
                )
    if configured:
        found.append(Finding("ok", f"channels: {', '.join(sorted(configured))}"))
    rules, problems = app.check_rules()
    for problem in problems:
        found.append(Finding("error" if problem.severity == "error" else "warning", str(problem)))
    if not any(p.severity == "error" for p in problems):
        found.append(Finding("ok", f"{len(rules.rules)} rules in {len(rules.files)} file(s)"))
    found.extend(_staff_findings(app, rules, configured))
    found.extend(_guard_findings(app, rules, configured))
    return found


def _recipients(rules: RuleSet) -> list[tuple[str, str, str]]:
    """(rule id, channel, to) of every ``send`` with a ``to:``."""
    out = []
    for rule in rules.rules:
        for action in rule.actions:
            to = getattr(action.params, "to", None)
            if action.type.name == "send" and to:
                out.append((rule.id, str(getattr(action.params, "channel", "")), str(to)))
    return out


def _staff_findings(app: App, rules: RuleSet, configured: dict[str, Any]) -> list[Finding]:
    staff = app.settings.staff
    found = []
    for rule_id, _channel, to in _recipients(rules):
        if to not in ("account_manager", "customer") and to not in staff:
            found.append(
                Finding(
                    "error",
                    f"rule '{rule_id}' sends to staff role '{to}', which is not defined under staff:",
                )
            )
    task = configured.get("task")
    if task is not None:
        assignee = getattr(task, "default_assignee", None)
        if assignee and assignee not in staff:
            found.append(
                Finding(
                    "error",
                    f"channels.task.default_assignee: '{assignee}' is not a role under staff:",
                )
            )
        announce = getattr(task, "announce", None)
        if announce and announce not in configured:
            found.append(
                Finding("error", f"channels.task.announce: channel '{announce}' is not configured")
            )
    return found


def _guard_findings(app: App, rules: RuleSet, configured: dict[str, Any]) -> list[Finding]:
    delivery = app.settings.delivery
    found = []
    for channel in delivery.quiet_hours:
        if channel not in app.registry.channels:
            found.append(Finding("error", f"delivery.quiet_hours.{channel}: no such channel"))
    known = {rule.id for rule in rules.rules}
    exempt = delivery.blast_radius.exempt_rules if delivery.blast_radius else []
    for rule_id in exempt:
        if rule_id not in known:
            found.append(
                Finding("warning", f"delivery.blast_radius.exempt_rules: no rule '{rule_id}'")
            )
    if app.settings.daemon.metrics.enabled:
        metrics = app.settings.daemon.metrics
        found.append(Finding("ok", f"metrics on http://{metrics.host}:{metrics.port}/metrics"))
    return found


__all__ = ["Finding", "check_config"]
