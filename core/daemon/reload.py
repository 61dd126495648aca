"""Rules and templates the daemon runs with, and how an edit replaces them.

The daemon never reads rule or template files while it works: it runs a
:class:`LiveSet` — the validated rules and a template catalog over a private copy
(snapshot) of the operator's template folders. :class:`Watcher` notices a change (file
list, sizes and modification times), :func:`load_live_set` validates the new files
exactly as ``patron check`` does, and only a set without errors replaces the running one,
in a single assignment. A bad edit is reported (every problem, file:line) and the last
good set keeps running; a half-saved template can never be rendered.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.app import App, RuleCheckEnv
from core.errors import Problem
from core.rules import RuleSet, check_rules, rule_files
from core.templates import SUFFIX, TemplateCatalog

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass
class LiveSet:
    """One validated generation of rules and templates."""

    rules: RuleSet
    catalog: TemplateCatalog
    snapshot: Path | None  # the private copy of the template folders
    fingerprint: Fingerprint
    descriptions: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.snapshot is not None:
            shutil.rmtree(self.snapshot, ignore_errors=True)


def fingerprint(rule_paths: Sequence[Path], template_dirs: Sequence[Path]) -> Fingerprint:
    """What changes when a rule or template file is added, removed or edited."""
    files, _ = rule_files(rule_paths)
    for directory in template_dirs:
        if directory.is_dir():
            files.extend(p for p in directory.rglob(f"*{SUFFIX}") if p.is_file())
    found = []
    for path in sorted(set(files)):
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def _snapshot(template_dirs: Sequence[Path]) -> tuple[Path, list[Path]]:
    root = Path(tempfile.mkdtemp(prefix="patron-templates-"))
    copies = []
    for index, directory in enumerate(template_dirs):
        target = root / str(index)
        if directory.is_dir():
            shutil.copytree(directory, target, ignore=shutil.ignore_patterns(".*"))
        else:
            target.mkdir()
        copies.append(target)
    return root, copies


def _unsnapshot(problem: Problem, copies: Sequence[Path], originals: Sequence[Path]) -> Problem:
    """Name the operator's template files, not the private copies, in a problem."""
    message = problem.message
    for copy, original in zip(copies, originals, strict=True):
        message = message.replace(str(copy), str(original))
    return Problem(problem.file, problem.line, message, problem.rule, problem.key, problem.severity)


def load_live_set(app: App) -> tuple[LiveSet | None, list[Problem]]:
    """Validate the current files; a LiveSet when there is no error, and every problem."""
    settings = app.settings
    before = fingerprint(app.rule_paths(), settings.template_dirs)
    root, copies = _snapshot(settings.template_dirs)
    snapshot_settings = settings.model_copy(update={"template_paths": copies})
    catalog = TemplateCatalog.from_settings(snapshot_settings, app.registry)
    catalog.freeze()  # a private copy: it never changes
    env = RuleCheckEnv(app.registry, catalog, settings)
    rules, problems = check_rules(app.rule_paths(), app.registry, env, settings.zone)
    problems = [_unsnapshot(p, copies, settings.template_dirs) for p in problems]
    if any(p.severity == "error" for p in problems):
        shutil.rmtree(root, ignore_errors=True)
        return None, problems
    descriptions = {rule.id: rule.description for rule in rules.rules}
    return LiveSet(rules, catalog, root, before, descriptions), problems


class Watcher:
    """Polls the fingerprint of the rule and template files."""

    def __init__(self, app: App, current: Fingerprint) -> None:
        self.app = app
        self.current = current

    def changed(self) -> bool:
        now = fingerprint(self.app.rule_paths(), self.app.settings.template_dirs)
        if now == self.current:
            return False
        self.current = now
        return True


__all__ = ["LiveSet", "Watcher", "fingerprint", "load_live_set"]
