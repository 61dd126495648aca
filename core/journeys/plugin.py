"""The journeys capability as a plugin: its rule-file section, cycle stage and report."""

from __future__ import annotations

import click

from core.hookspecs import hookimpl
from core.journeys import tables as tables  # defines the journey tables for the store
from core.journeys.report import journeys_report
from core.journeys.section import JOURNEYS_SECTION
from core.journeys.stage import JOURNEYS_STAGE
from core.vocabulary import CycleStage, RuleSection


@hookimpl
def patron_rule_sections() -> list[RuleSection]:
    return [JOURNEYS_SECTION]


@hookimpl
def patron_cycle_stages() -> list[CycleStage]:
    return [JOURNEYS_STAGE]


@hookimpl
def patron_report_commands() -> list[click.Command]:
    return [journeys_report]
