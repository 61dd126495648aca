"""Secrets named in patron.yaml by environment variable, never written there."""

from __future__ import annotations

import os

from core.errors import ConfigError


def secret(variable: str | None, what: str) -> str | None:
    """The value of environment variable ``variable`` (None when no variable is named).

    Raises ConfigError saying which setting names it when the variable is unset.
    """
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(f"{what}: environment variable {variable} is not set")
    return value


__all__ = ["secret"]
