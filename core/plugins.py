"""The plugin manager factory.

No plugin is loaded at import time: :func:`make_plugin_manager` builds a fresh
manager, so tests (and a daemon reloading its configuration) get a clean one.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from core import hookspecs


def make_plugin_manager(
    *, entry_points: bool = True, extra: Iterable[object] = (), block: Iterable[str] = ()
) -> pluggy.PluginManager:
    """A plugin manager with every ``patron`` entry point loaded, plus ``extra`` plugins.

    ``block`` names entry points not to load (for tests and ``--disable-plugin``).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in block:
        pm.set_blocked(name)
    if entry_points:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra:
        pm.register(plugin)
    return pm


def plugin_names(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(name, distribution or module) for every registered plugin, for ``patron plugins``."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        origin = (
            f"{dist.project_name} {dist.version}"
            if dist
            else getattr(plugin, "__name__", repr(plugin))
        )
        rows.append((name, origin))
    return sorted(rows)
