"""``patron check`` on ``send``: staff recipients and SMS length, with file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.app import build_app
from core.config import Settings, StaffMember
from tests.cycle.conftest import write_rules, write_template

RULE = """\
rules:
  - id: overdue-complaint
    schedule: "every 1h"
    when: open_complaints > 0
    once_per: 7d
    category: service
    then:
      - send: {SEND}
"""


def problems(settings: Settings, send: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(settings.base_dir)
    write_rules(settings, RULE.replace("{SEND}", send))
    write_template(
        settings,
        "service/overdue",
        "en",
        "Overdue: {{ customer.name }}",
        "Call {{ customer.name }}.",
    )
    write_template(settings, "service/long", "en", "x", "{{ customer.name }} " + "x" * 400)
    app = build_app(settings=settings)
    return [str(p) for p in app.check_rules()[1]]


STAFF = {"supervisor": StaffMember(name="Wang", email="lead@example.com")}


@pytest.mark.parametrize(
    ("send", "staff", "channels", "expected"),
    [
        ("{channel: task, template: service/overdue, to: supervisor}", STAFF, {}, []),
        ("{channel: task, template: service/overdue, to: account_manager}", {}, {}, []),
        ("{channel: task, template: service/overdue, to: supervisor}", {}, {}, []),  # no staff: yet
        (
            "{channel: task, template: service/overdue, to: supervsor}",
            STAFF,
            {},
            [
                "rules/rules.yaml:8: rule 'overdue-complaint' → then[0].send.to: unknown recipient "
                "'supervsor' (did you mean 'supervisor'?): use account_manager or a staff role "
                "under staff: in patron.yaml (supervisor)"
            ],
        ),
        (
            "{channel: task, template: service/overdue, to: Supervisor}",
            {},
            {},
            [
                "rules/rules.yaml:8: rule 'overdue-complaint' → then[0].send.to: 'Supervisor' is "
                "not a staff role name: use lowercase letters, digits, '-' and '_'"
            ],
        ),
        (
            "{channel: sms, template: service/long}",
            {},
            {"sms": {"url": "http://127.0.0.1:9/sms", "max_length": 70}},
            [
                "rules/rules.yaml:8: rule 'overdue-complaint' → then[0].send.template: "
                "'service/long' (en) renders 412 characters with sample values; "
                "channels.sms.max_length is 70"
            ],
        ),
        (
            "{channel: sms, template: service/overdue}",
            {},
            {"sms": {"url": "http://127.0.0.1:9/sms", "max_length": 70}},
            [],
        ),
    ],
)
def test_send_is_checked_against_staff_and_channels(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    send: str,
    staff: dict[str, StaffMember],
    channels: dict[str, Any],
    expected: list[str],
) -> None:
    settings = settings.model_copy(update={"staff": staff, "channels": channels})
    assert problems(settings, send, monkeypatch) == expected


def test_check_config_lists_what_the_daemon_needs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from core.daemon.check import check_config

    monkeypatch.chdir(settings.base_dir)
    monkeypatch.delenv("PATRON_TEST_MISSING", raising=False)
    write_rules(
        settings, RULE.replace("{SEND}", "{channel: task, template: service/overdue, to: desk}")
    )
    write_template(settings, "service/overdue", "en", "Overdue", "Call.")
    settings = settings.model_copy(
        update={
            "channels": {
                "email": {
                    "host": "127.0.0.1",
                    "from": "care@example.com",
                    "username": "care",
                    "password_env": "PATRON_TEST_MISSING",
                },
                "task": {"announce": "sms", "default_assignee": "nobody"},
            },
        }
    )
    settings.delivery.quiet_hours = {"fax": settings.delivery.quiet_hours.get("fax") or _window()}
    findings = [str(f) for f in check_config(build_app(settings=settings))]
    assert findings[0].startswith("ok: store sqlite:///")
    assert (
        "error: channels.email.password_env: environment variable PATRON_TEST_MISSING is not set"
        in findings
    )
    assert "ok: 1 rules in 1 file(s)" in findings
    assert (
        "error: rule 'overdue-complaint' sends to staff role 'desk', which is not defined under staff:"
        in findings
    )
    assert "error: channels.task.default_assignee: 'nobody' is not a role under staff:" in findings
    assert "error: channels.task.announce: channel 'sms' is not configured" in findings
    assert "error: delivery.quiet_hours.fax: no such channel" in findings


def _window() -> Any:
    from core.config import QuietHours

    return QuietHours.model_validate("21:00-08:00")
