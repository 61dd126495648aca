"""YAML reading with lines: every key and list item located, duplicates caught."""

from __future__ import annotations

import datetime as dt

import pytest

from core.rules.model import show
from core.rules.yaml_source import YamlProblem, load_yaml

TEXT = """\
# a comment
rules:
  - id: a
    then:
      - send: {channel: file,
               template: care/birthday}
      -
        send:
          channel: email
"""


def test_lines_of_keys_and_items() -> None:
    doc = load_yaml(TEXT)
    assert doc.problems == []
    assert doc.data == {
        "rules": [
            {
                "id": "a",
                "then": [
                    {"send": {"channel": "file", "template": "care/birthday"}},
                    {"send": {"channel": "email"}},
                ],
            }
        ]
    }
    line = doc.source.line
    assert line(("rules",)) == 2
    assert line(("rules", 0)) == 3
    assert line(("rules", 0, "then", 0, "send", "template")) == 6
    assert line(("rules", 0, "then", 1)) == 8
    assert line(("rules", 0, "then", 1, "send", "channel")) == 9
    assert line(("rules", 0, "then", 1, "send", "missing", "deeper")) == 8  # nearest ancestor
    assert line(("nothing",)) == 2  # the document's first line


def test_duplicate_keys_are_reported_at_every_depth() -> None:
    doc = load_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert doc.problems == [
        YamlProblem(4, "duplicate key 'c' (first at line 3)"),
        YamlProblem(5, "duplicate key 'a' (first at line 1)"),
    ]
    assert doc.data == {"a": 3, "b": {"c": 2}}


def test_keys_are_kept_as_written() -> None:
    assert load_yaml("on: yes\n1: 2\n").data == {"on": True, "1": 2}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [1\n", "invalid YAML: expected ',' or ']', but got '<stream end>' (column 1)"),
        (
            "a: 1\n---\nb: 2\n",
            "invalid YAML: expected a single document in the stream, "
            "but found another document (column 1)",
        ),
        ("a: &x [1, *x]\n", "invalid YAML: an alias refers to itself"),
        ("? [a]\n: 1\n", "invalid YAML: a key must be a plain word, not a list or mapping"),
        ("a: !!set {x}\n", "invalid YAML: unsupported tag 'tag:yaml.org,2002:set'"),
        ("x: &m {a: 1}\ny:\n  <<: [*m, 5]\n", "invalid YAML: '<<' must merge a mapping"),
    ],
)
def test_invalid_yaml_gives_no_data(text: str, problem: str) -> None:
    doc = load_yaml(text)
    assert doc.data is None
    assert [p.message for p in doc.problems] == [problem]


def test_empty_document() -> None:
    doc = load_yaml("# only a comment\n")
    assert (doc.data, doc.problems) == (None, [])


def test_values_shown_as_in_yaml() -> None:
    shown = [show(v) for v in (None, True, "x", 3, 1.5, [1], {"a": 1}, dt.date(2026, 1, 1))]
    assert shown == ["nothing", "true", "'x'", "3", "1.5", "a list", "a mapping", "2026-01-01"]
