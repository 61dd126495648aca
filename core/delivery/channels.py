"""Configured channels: each registered channel type with its validated settings.

``channels:`` in patron.yaml maps a channel name to that channel's settings, validated by
the channel type's own pydantic model. A channel type whose model accepts empty settings
(``file``) is available without an entry; one that needs settings (an SMTP host) is
available only once configured.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from core.config import Settings
from core.errors import ConfigError
from core.registry import Registry
from core.store import Store
from core.suggest import did_you_mean
from core.vocabulary import Channel


def channel_settings(registry: Registry, settings: Settings) -> dict[str, BaseModel]:
    """The validated settings of every available channel, by name.

    Raises ConfigError naming the channel and key (``channels.file.directry: Extra inputs
    are not permitted``) for every problem, and for a channel no plugin provides.
    """
    problems: list[str] = []
    for name in settings.channels:
        if name not in registry.channels:
            known = registry.channels.names()
            problems.append(f"channels.{name}: unknown channel '{name}'{did_you_mean(name, known)}")
    validated: dict[str, BaseModel] = {}
    for name in registry.channels.names():
        model = registry.channels[name].settings
        configured = name in settings.channels
        try:
            validated[name] = model.model_validate(settings.channels.get(name) or {})
        except ValidationError as exc:
            if not configured:
                continue  # needs settings the operator has not given: not available
            for error in exc.errors():
                key = ".".join(str(part) for part in ("channels", name, *error["loc"]))
                problems.append(f"{key}: {error['msg']}")
    if problems:
        raise ConfigError("\n".join(problems))
    return validated


def build_channels(registry: Registry, settings: Settings) -> dict[str, Channel]:
    """A Channel instance for every available channel (close them when done)."""
    return {
        name: registry.channels[name].factory(model, settings)
        for name, model in channel_settings(registry, settings).items()
    }


def attach_channels(channels: Mapping[str, Channel], store: Store) -> None:
    """Give channels that keep state in the store (``task``) the store and their peers.

    A channel opts in with a method ``attach(store, channels)``.
    """
    for channel in channels.values():
        attach = getattr(channel, "attach", None)
        if callable(attach):
            attach(store, channels)


def address_field(channel: Channel) -> str | None:
    """The customer field a channel sends to, if it says (``address_field`` or ``address``)."""
    for attribute in ("address_field", "address"):
        value = getattr(channel, attribute, None)
        if isinstance(value, str):
            return value
    return None


_NO_ADDRESS = {
    "email": "no email address",
    "phone": "no phone number",
    "account_manager": "no account manager",
}


def no_address_reason(channel: Channel) -> str:
    """Why a customer cannot be reached: ``no email address``, ``no phone number`` ..."""
    field = address_field(channel)
    if field is None:
        return f"no address for channel '{channel.name}'"
    return _NO_ADDRESS.get(field, f"no {field.replace('_', ' ')}")


__all__ = [
    "address_field",
    "attach_channels",
    "build_channels",
    "channel_settings",
    "no_address_reason",
]
