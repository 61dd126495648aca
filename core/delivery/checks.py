"""Checks of ``send`` that need the configured channels (run by ``patron check``).

A channel whose settings model has a ``max_length`` (the SMS gateway) gets each locale
file of the template rendered with sample values, and a body longer than that is named.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.config import Settings
from core.errors import TemplateError
from core.templates import SMS_MAX_CHARS, sample_context


def channel_problems(env: Any, params: Any, settings: Settings) -> list[tuple[str, str]]:
    """``(key, message)`` pairs about ``params`` (a SendParams) for its configured channel."""
    registry = getattr(env, "registry", None)
    catalog = getattr(env, "catalog", None)
    if registry is None or catalog is None or params.channel not in registry.channels:
        return []
    kind = registry.channels[params.channel]
    try:
        model = kind.settings.model_validate(settings.channels.get(params.channel) or {})
    except ValidationError:
        return []  # reported by `patron daemon --check-config` and at start
    limit = getattr(model, "max_length", None)
    if not isinstance(limit, int) or not catalog.exists(params.template):
        return []
    problems: list[tuple[str, str]] = []
    features = registry.features.names()
    for locale in catalog.locales(params.template):
        sample = sample_context(
            registry.feature_types(), features, locale, settings.currency, settings.zone
        )
        try:
            body = catalog.render(params.template, locale, sample).body
        except TemplateError:
            continue  # the template check reports it
        if len(body) > limit and not (params.channel == "sms" and len(body) > SMS_MAX_CHARS):
            problems.append(
                (
                    "template",
                    f"'{params.template}' ({locale}) renders {len(body)} characters with "
                    f"sample values; channels.{params.channel}.max_length is {limit}",
                )
            )
    return problems


__all__ = ["channel_problems"]
