"""The shipped ``care`` plugin (loaded through the ``patron`` entry-point group).

Complaint tickets with SLA deadlines in business hours and an escalation ladder
(``sla:`` section, :mod:`plugins.care.stage`), care occasions (anniversaries, public and
traditional holidays per customer country, the local date for member days), surveys
(CSAT and NPS) and ``patron report service``. The operator's guide is ``docs/care.md``.
"""

from __future__ import annotations

import click

from core.config import Settings
from core.hookspecs import hookimpl
from core.vocabulary import CycleStage, FeatureSet, RuleSection
from plugins.care.cadence import ContactFeatures
from plugins.care.occasions import OccasionFeatures
from plugins.care.report import service_report
from plugins.care.sla_check import check_sla
from plugins.care.sla_model import SlaSection
from plugins.care.stage import CARE_STAGE, SECTION
from plugins.care.surveys import SurveyFeatures
from plugins.care.ticket_features import TicketFeatures
from plugins.care.tickets import CareTicket

SLA_EXAMPLE = """\
sla:
  calendars:
    office: {days: [mon, tue, wed, thu, fri], hours: ["09:00-12:00", "13:00-18:00"], holidays: CN}
  profiles:
    - {name: standard, severity: normal, respond_within: 24h, resolve_within: 24h}
    - {name: email, channel: email, respond_within: 2h, clock: office}
  escalations:
    levels:
      - {level: 1, at: 80% of response, send: {channel: task, template: service/escalation_agent, to: service_desk}}
      - {level: 2, at: response breach, send: {channel: task, template: service/escalation_supervisor, to: supervisor}}
"""


@hookimpl
def patron_feature_sets(settings: Settings) -> list[FeatureSet]:
    return [TicketFeatures(), OccasionFeatures(), SurveyFeatures(), ContactFeatures()]


@hookimpl
def patron_rule_sections() -> list[RuleSection]:
    return [
        RuleSection(
            name=SECTION,
            model=SlaSection,
            description="Complaint SLAs: business calendars, response and resolution targets "
            "per severity, channel and customer, and the escalation ladder.",
            check=check_sla,
            example=SLA_EXAMPLE,
        )
    ]


@hookimpl
def patron_cycle_stages() -> list[CycleStage]:
    return [CARE_STAGE]


@hookimpl
def patron_report_commands() -> list[click.Command]:
    return [service_report]


__all__ = ["CareTicket"]
