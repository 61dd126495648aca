"""The patron plugin API.

A plugin is a module or object with functions marked ``@hookimpl`` and is made
known through the ``patron`` entry-point group::

    # pyproject.toml of your plugin
    [project.entry-points.patron]
    my_plugin = "my_package.patron_plugin"

    # my_package/patron_plugin.py
    from core.hookspecs import hookimpl
    from core.vocabulary import EventType

    @hookimpl
    def patron_event_types():
        return [EventType("webinar_attended", "The customer attended a webinar.")]

The built-in vocabulary (core features, the ``send`` action, the ``file`` channel)
and the shipped ``tiering``, ``churn`` and ``care`` plugins use exactly this API.
Every hook below returns a list; the engine collects the lists of all plugins and
indexes them by name. A name contributed by two plugins is a start-up error that
names both (:class:`core.errors.PluginError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click

    from core.config import Settings
    from core.vocabulary import (
        ActionType,
        ChannelType,
        CycleStage,
        EventType,
        FeatureSet,
        RuleSection,
    )

PROJECT = "patron"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def patron_feature_sets(settings: Settings) -> list[FeatureSet]:
    """Contribute per-customer features, in groups computed together as SQL.

    Each :class:`core.vocabulary.FeatureSet` returns a SELECT keyed by
    ``customer_id`` as of the cycle's instant. Feature names are global: rule
    conditions and templates refer to them without a prefix.
    """
    raise NotImplementedError


@hookspec
def patron_action_types() -> list[ActionType]:
    """Contribute verbs that rules can use under ``then:``.

    Each :class:`core.vocabulary.ActionType` carries a pydantic model that
    validates its YAML arguments; its description and example feed ``patron
    schema`` and the docs.
    """
    raise NotImplementedError


@hookspec
def patron_channel_types() -> list[ChannelType]:
    """Contribute delivery channels (``file``, ``email``, ``webhook``, ``sms`` ...)."""
    raise NotImplementedError


@hookspec
def patron_rule_sections() -> list[RuleSection]:
    """Contribute top-level keys of rule files, validated like rules (``tiers:`` ...).

    See :class:`core.vocabulary.RuleSection`. The operator writes them in any rule
    file, once; the plugin reads the validated value from ``RuleSet.sections``.
    """
    raise NotImplementedError


@hookspec
def patron_event_types() -> list[EventType]:
    """Contribute event types that ``patron import events`` accepts."""
    raise NotImplementedError


@hookspec
def patron_template_dirs() -> list[Path]:
    """Contribute folders of Jinja2 templates shipped with a plugin.

    They are searched after the operator's ``template_paths``, so an operator can
    override any shipped template by placing a file with the same name.
    """
    raise NotImplementedError


@hookspec
def patron_cycle_stages() -> list[CycleStage]:
    """Contribute work run in every cycle after features, before rules (see CycleStage).

    Stages run in the cycle's transaction, each after the stages its ``after`` names
    (``"*"``: after all others), otherwise in plugin registration order.
    """
    raise NotImplementedError


@hookspec
def patron_commands() -> list[click.Command]:
    """Contribute top-level ``patron`` commands (click commands or groups)."""
    raise NotImplementedError


@hookspec
def patron_report_commands() -> list[click.Command]:
    """Contribute subcommands of ``patron report`` (e.g. ``patron report journeys``)."""
    raise NotImplementedError


@hookspec
def patron_cycle_started(as_of: int, rule_ids: list[str]) -> None:
    """Called when a cycle starts, before features are computed. Results are ignored."""


@hookspec
def patron_cycle_finished(as_of: int, summary: dict[str, Any]) -> None:
    """Called after a cycle has committed its ledger rows. Results are ignored."""
