"""``patron check`` on the sla: section: every mistake named with file, line and key."""

from __future__ import annotations

import textwrap

import pytest

from core.app import build_app
from core.config import Settings, StaffMember
from tests.cycle.conftest import write_template

LADDER = """\
  escalations:
    levels:
      - level: 1
        at: 80% of response
        send: {channel: file, template: service/esc, to: account_manager}
"""


def problems(settings: Settings, text: str) -> list[str]:
    folder = settings.rule_dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    for locale in ("en", "zh-CN"):
        write_template(settings, "service/esc", locale, "Ticket {{ ticket_ref }}", "Level")
    app = build_app(settings=settings)
    _, found = app.check_rules()
    return [str(p) for p in found if p.severity == "error"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 48h, resolve_within: 24h}\n",
            "rules/service.yaml:3: sla.profiles[0].resolve_within: 24h is shorter than "
            "respond_within 48h: a ticket cannot be resolved before the response is due; "
            "make resolve_within at least as long",
            id="resolution-shorter-than-response",
        ),
        pytest.param(
            "sla:\n  calendars:\n    office:\n      holidays: China\n"
            "  profiles:\n    - {name: email, respond_within: 2h, clock: office}\n",
            "rules/service.yaml:4: sla.calendars.office.holidays: unknown country 'China' for "
            "public holidays (did you mean 'CN'?); use an ISO 3166 code such as CN, HK, SG or US",
            id="unknown-holiday-country",
        ),
        pytest.param(
            "sla:\n  calendars:\n    office: {holidays: CNN}\n"
            "  profiles:\n    - {name: email, respond_within: 2h, clock: office}\n",
            "rules/service.yaml:3: sla.calendars.office.holidays: unknown country 'CNN' for "
            "public holidays (did you mean 'CN'?); use an ISO 3166 code such as CN, HK, SG or US",
            id="misspelt-holiday-country",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n"
            "  escalations:\n    levels:\n      - level: 2\n        at: response breach\n"
            "        send: {channel: file, template: service/esc}\n",
            "rules/service.yaml:8: sla.escalations.levels[0].send: level 2 has no recipient: "
            "add 'to: account_manager' or a staff role from staff: in patron.yaml, "
            "e.g. 'to: supervisor'",
            id="escalation-without-recipient",
        ),
        pytest.param(
            "sla:\n  calendars:\n    office: {}\n"
            "  profiles:\n    - {name: email, respond_within: 2h, clock: ofice}\n",
            "rules/service.yaml:5: sla.profiles[0].clock: unknown calendar 'ofice' "
            "(did you mean 'office'?); define it under calendars: (known: office)",
            id="unknown-calendar",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 2 hours}\n",
            "rules/service.yaml:3: sla.profiles[0].respond_within: expected a duration such as "
            "30m, 2h, 1.5d or 2w, got '2 hours'",
            id="unreadable-duration",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24}\n",
            "rules/service.yaml:3: sla.profiles[0].respond_within: write a duration with its "
            "unit, such as 24h or 2d, got 24",
            id="duration-without-unit",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h, respond_in: 2h}\n",
            "rules/service.yaml:3: sla.profiles[0]: unknown key 'respond_in' "
            "(did you mean 'respond_within'?)",
            id="misspelt-key",
        ),
        pytest.param(
            'sla:\n  profiles:\n    - {name: vip, when: tierr == "vip", respond_within: 4h}\n',
            "rules/service.yaml:3: sla.profiles[0].when: unknown feature 'tierr' "
            "(did you mean 'tier'?)",
            id="unknown-feature",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard}\n",
            "rules/service.yaml:3: sla.profiles[0]: profile 'standard' needs respond_within "
            "or resolve_within",
            id="profile-without-target",
        ),
        pytest.param(
            "sla:\n  calendars:\n    office: {hours: ['09:00-18', '13:00-12:00']}\n"
            "  profiles:\n    - {name: standard, respond_within: 2h, clock: office}\n",
            "rules/service.yaml:3: sla.calendars.office.hours: expected working hours such as "
            "'09:00-18:00', got a list",
            id="unreadable-hours",
        ),
        pytest.param(
            "sla:\n  calendars:\n    office: {holidays: US, subdivision: XX}\n"
            "  profiles:\n    - {name: standard, respond_within: 2h, clock: office}\n",
            "rules/service.yaml:3: sla.calendars.office.subdivision: 'XX' is not a subdivision "
            "of US; use one of: AK, AL, AR, AS, AZ, CA, CO, CT, DC, DE, FL, GA, GU, HI, IA, ID, "
            "IL, IN, KS, KY, LA, MA, MD, ME, MI, MN, MO, MP, MS, MT, NC, ND, NE, NH, NJ, NM, NV, "
            "NY, OH, OK, OR, PA, PR, RI, SC, SD, TN, TX, UM, UT, VA, VI, VT, WA, WI, WV, WY",
            id="unknown-subdivision",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n"
            + LADDER
            + "      - level: 2\n        at: 50% of response\n"
            "        send: {channel: file, template: service/esc, to: supervisor}\n",
            "rules/service.yaml:10: sla.escalations.levels[1].at: level 2 (50% of response) "
            "would come before level 1 (80% of response): higher levels must come later",
            id="ladder-out-of-order",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n"
            + LADDER
            + "    start:\n      - {topic: payment, level: 3}\n",
            "rules/service.yaml:10: sla.escalations.start[0].level: level 3 is not on the "
            "ladder (levels: 1)",
            id="start-level-not-on-the-ladder",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n"
            "  escalations:\n    levels:\n      - level: 1\n        at: 80 percent\n"
            "        send: {channel: file, template: service/esc, to: account_manager}\n",
            "rules/service.yaml:7: sla.escalations.levels[0].at: expected '80% of response', "
            "'50% of resolution', 'response breach' or 'resolution breach', got '80 percent'",
            id="unreadable-trigger",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n"
            "  escalations:\n    levels:\n      - level: 1\n        at: resolution breach\n"
            "        send: {channel: file, template: service/esc, to: account_manager}\n",
            "rules/service.yaml:7: sla.escalations.levels[0].at: no profile has "
            "resolve_within, so 'resolution breach' never comes",
            id="trigger-without-target",
        ),
        pytest.param(
            "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n"
            "  escalations:\n    levels:\n      - level: 1\n        at: response breach\n"
            "        send: {channel: fax, template: service/nope, to: supervisr}\n",
            [
                "rules/service.yaml:8: sla.escalations.levels[0].send.to: unknown recipient "
                "'supervisr' (did you mean 'supervisor'?): use account_manager or a staff role "
                "under staff: in patron.yaml (supervisor)",
                "rules/service.yaml:8: sla.escalations.levels[0].send.channel: unknown channel 'fax'",
            ],
            id="unknown-channel-and-role",
        ),
    ],
)
def test_sla_mistakes_are_named_with_file_line_and_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, text: str, expected: str | list[str]
) -> None:
    monkeypatch.chdir(settings.base_dir)
    staffed = settings.model_copy(
        update={"staff": {"supervisor": StaffMember(name="Lead", email="lead@example.com")}}
    )
    assert problems(staffed, text) == ([expected] if isinstance(expected, str) else expected)


def test_the_shipped_ladder_checks_clean_without_staff_roles(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Roles are checked once patron.yaml defines staff: (delivery names a missing one)."""
    monkeypatch.chdir(settings.base_dir)
    text = "sla:\n  profiles:\n    - {name: standard, respond_within: 24h}\n" + LADDER.replace(
        "account_manager", "supervisor"
    )
    assert problems(settings, text) == []
