"""YAML loading that remembers where every key and list item came from.

PyYAML's ``safe_load`` forgets line numbers and silently keeps the last of two
equal keys. Rule files need both: every problem names a line, and a duplicated
``when:`` must not quietly replace the first one. So the text is *composed* into
nodes with :class:`yaml.SafeLoader` and the nodes are turned into plain Python
values here, recording the line of each key and list item under its path, e.g.
``("rules", 0, "then", 1, "send", "template")``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

YamlPath = tuple[str | int, ...]

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlProblem:
    """A problem found while reading the YAML itself (syntax, duplicate keys)."""

    line: int
    message: str


@dataclass
class SourceMap:
    """Lines (1-based) of keys and list items by their path in the document."""

    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, path: YamlPath) -> int:
        """The line of ``path``, or of its nearest ancestor that has one (1 at worst)."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return 1


@dataclass
class YamlDocument:
    """A parsed file: plain Python data, where each part came from, and YAML problems.

    ``data`` is None both for an empty file and for one with a syntax error; the
    latter has a problem in ``problems``.
    """

    data: Any
    source: SourceMap
    problems: list[YamlProblem]


def load_yaml(text: str) -> YamlDocument:
    """Parse one YAML document, tracking lines and rejecting duplicate keys."""
    source = SourceMap()
    problems: list[YamlProblem] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, source, problems)
        builder = _Builder(loader, source, problems)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(exc))
        return YamlDocument(None, source, problems)
    except _Invalid as exc:
        problems.append(exc.problem)
        return YamlDocument(None, source, problems)
    except yaml.YAMLError as exc:  # unmarked reader errors, e.g. a control character
        problems.append(YamlProblem(1, f"invalid YAML: {exc}"))
        return YamlDocument(None, source, problems)
    finally:
        loader.dispose()
    return YamlDocument(data, source, problems)


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    text = exc.problem or exc.context or "cannot parse"
    if exc.context and text.startswith("but "):  # "expected a single document ..., but found ..."
        text = f"{exc.context}, {text}"
    if mark is None:
        return YamlProblem(1, f"invalid YAML: {text}")
    return YamlProblem(mark.line + 1, f"invalid YAML: {text} (column {mark.column + 1})")


class _Invalid(Exception):
    """A YAML problem after which the data cannot be trusted (duplicate keys can)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.problem = YamlProblem(line, message)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording lines."""

    def __init__(self, loader: yaml.SafeLoader, source: SourceMap, problems: list[YamlProblem]):
        self.loader = loader
        self.source = source
        self.problems = problems
        self.active: set[int] = set()  # nodes being built, to refuse recursive aliases

    def build(self, node: Node, path: YamlPath) -> Any:
        self.source.lines.setdefault(path, _line(node))
        if id(node) in self.active:
            raise _Invalid(_line(node), "invalid YAML: an alias refers to itself")
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def _sequence(self, node: SequenceNode, path: YamlPath) -> list[Any]:
        self._check_tag(node, SEQ_TAG)
        items: list[Any] = []
        for index, item in enumerate(node.value):
            self.source.lines[(*path, index)] = _line(item)
            items.append(self.build(item, (*path, index)))
        return items

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[Any, Any]:
        self._check_tag(node, MAP_TAG)
        result: dict[Any, Any] = {}
        own: list[tuple[Node, Node]] = []
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                self._merge(value_node, path, merged)
            else:
                own.append((key_node, value_node))
        result.update(merged)
        first_line: dict[Hashable, int] = {}
        for key_node, value_node in own:
            key = self._key(key_node)
            line = _line(key_node)
            if key in first_line:
                self.problems.append(
                    YamlProblem(line, f"duplicate key '{key}' (first at line {first_line[key]})")
                )
            else:
                first_line[key] = line
            self.source.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _merge(self, value_node: Node, path: YamlPath, merged: dict[Any, Any]) -> None:
        """``<<: *defaults`` (or a list of them): earlier mappings win, own keys win over all."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _Invalid(_line(source), "invalid YAML: '<<' must merge a mapping")
            built = self.build(source, path)
            for key, value in built.items():
                merged.setdefault(key, value)

    def _key(self, key_node: Node) -> str:
        if isinstance(key_node, ScalarNode):
            return str(key_node.value)  # as written: 'on' stays 'on', '1' stays '1'
        raise _Invalid(
            _line(key_node), "invalid YAML: a key must be a plain word, not a list or mapping"
        )

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise _Invalid(_line(node), f"invalid YAML: unsupported tag '{node.tag}'")
