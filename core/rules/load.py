"""Loading every rule file: collect all problems, then fail once with all of them.

:func:`check_rules` is what ``patron check`` prints from; :func:`load_rules` is what
the cycle and the daemon call, and raises :class:`core.errors.RuleProblems` when any
problem is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import Problem, RuleProblems
from core.registry import Registry
from core.rules.model import RuleSet
from core.rules.validate import validate_file
from core.vocabulary import CheckEnv

SUFFIXES = (".yaml", ".yml")


def display_name(path: Path) -> str:
    """The path relative to the current directory when it is below it, else as given."""
    for candidate, base in ((path.absolute(), Path.cwd()), (path.resolve(), Path.cwd().resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def is_rule_test(path: Path) -> bool:
    """Whether ``path`` is a rule test file (``*.test.yaml`` / ``*.test.yml``)."""
    return path.name.lower().endswith((".test.yaml", ".test.yml"))


def rule_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Every ``*.yaml``/``*.yml`` under the given files and folders, sorted, hidden ones skipped.

    Rule tests (``*.test.yaml``, see ``patron test``) living beside the rules are not rules.

    A path that does not exist is a warning, not an error: a fresh installation has
    no rules yet.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = (
                p
                for p in path.rglob("*")
                if p.suffix.lower() in SUFFIXES
                and not is_rule_test(p)
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            files.extend(sorted(found, key=lambda p: p.relative_to(path).as_posix()))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                Problem(
                    display_name(path), None, "no such file or folder of rules", severity="warning"
                )
            )
    unique = list(dict.fromkeys(files))  # a file named twice (a folder and its file) loads once
    return unique, problems


def check_rules(
    paths: Sequence[Path], registry: Registry, env: CheckEnv, zone: ZoneInfo
) -> tuple[RuleSet, list[Problem]]:
    """Load and validate every rule file; return the valid rules and every problem found.

    Rules with problems are left out of the set. A rule id defined twice is reported
    at the second definition, which is left out.
    """
    files, problems = rule_files(paths)
    rule_set = RuleSet(files=files)
    first_seen: dict[str, str] = {}
    for path in files:
        name = display_name(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(name, None, f"cannot read the file: {exc.strerror or exc}"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            problems.append(
                Problem(
                    name,
                    line,
                    f"not UTF-8 text (byte {data[exc.start]:#04x}); save the file as UTF-8",
                )
            )
            continue
        result = validate_file(name, text, registry, env, zone)
        duplicates: set[int] = set()
        for rule_id, line in result.ids:
            if rule_id in first_seen:
                message = f"rule '{rule_id}' is also defined at {first_seen[rule_id]}"
                result.problems.append(Problem(name, line, message))
                duplicates.add(line)
            else:
                first_seen[rule_id] = f"{name}:{line}"
        for section in result.sections:
            earlier = rule_set.sections.get(section.name)
            if earlier is not None:
                message = (
                    f"section '{section.name}' is also defined at {earlier.file}:{earlier.line}"
                )
                result.problems.append(Problem(name, section.line, message))
            else:
                rule_set.sections[section.name] = section
        result.problems.sort(key=lambda p: p.line or 0)
        problems.extend(result.problems)
        rule_set.rules.extend(rule for rule in result.rules if rule.line not in duplicates)
    for name, kind in registry.rule_sections.items.items():
        if kind.check_rules is not None and not _section_failed(name, problems):
            found = rule_set.sections.get(name)
            problems.extend(kind.check_rules(found.value if found else None, rule_set))
    return rule_set, problems


def _section_failed(name: str, problems: list[Problem]) -> bool:
    """Whether an error was reported inside the section ``name`` (its keys start with it)."""
    return any(
        p.severity == "error" and p.key is not None and p.key.split(".")[0].split("[")[0] == name
        for p in problems
    )


def load_rules(paths: Sequence[Path], registry: Registry, env: CheckEnv, zone: ZoneInfo) -> RuleSet:
    """Load every rule file under ``paths``; raise RuleProblems listing all errors, if any."""
    rule_set, problems = check_rules(paths, registry, env, zone)
    if any(p.severity == "error" for p in problems):
        raise RuleProblems(problems)
    return rule_set
