"""Format detection and the field parsers shared by the importers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.errors import UserError
from core.importing.events import OccurrenceCounter
from core.importing.readers import BadRow, detect_format, instant, integer, minor_units

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("a.csv", None, "csv"),
        ("a.CSV", None, "csv"),
        ("a.jsonl", None, "jsonl"),
        ("a.ndjson", None, "jsonl"),
        ("CDNOW_master.txt", "cdnow", "cdnow"),
        ("a.txt", "CSV", "csv"),
        ("a.csv", "ndjson", "jsonl"),
    ],
)
def test_detect_format(name: str, fmt: str | None, expected: str) -> None:
    assert detect_format(Path(name), fmt) == expected


def test_detect_format_errors() -> None:
    with pytest.raises(UserError, match="cannot tell the format"):
        detect_format(Path("a.xlsx"))
    with pytest.raises(UserError, match="unknown import format 'xml'"):
        detect_format(Path("a.csv"), "xml")


@pytest.mark.parametrize(
    ("raw", "minor"),
    [
        ("12.34", 1234),
        (" 12.3 ", 1230),
        ("12", 1200),
        ("-0.5", -50),
        ("0.10", 10),
        ("1.230", 123),  # a trailing zero is not a third decimal
        ("1e2", 10000),
        ("", None),
        (None, None),
        (7, 700),
        (19.99, 1999),  # a JSON number: its shortest repr, never float arithmetic
        (0.1, 10),
        (Decimal("2.5"), 250),
    ],
)
def test_minor_units(raw: Any, minor: int | None) -> None:
    assert minor_units(raw, "amount") == minor


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12,5", "amount '12,5' is not a number"),
        ("1.234", "amount '1.234' has more than 2 decimal places"),
        ("abc", "amount 'abc' is not a number"),
        ("inf", "amount 'inf' is not a number"),
        (True, "amount must be a number, got a boolean"),
        ("1e30", "amount '1e30' is out of range"),
    ],
)
def test_minor_units_rejects(raw: Any, message: str) -> None:
    with pytest.raises(BadRow) as raised:
        minor_units(raw, "amount")
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01 10:00", dt.datetime(2024, 3, 1, 10, tzinfo=SHANGHAI)),
        ("2024-03-01T10:00:00Z", dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)),
        ("2024-03-01T10:00:00-05:00", dt.datetime(2024, 3, 1, 15, tzinfo=dt.UTC)),
        ("2024-03-01", dt.datetime(2024, 3, 1, tzinfo=SHANGHAI)),
        ("20240301", dt.datetime(2024, 3, 1, tzinfo=SHANGHAI)),  # 8 digits: a basic ISO date
        ("1709258400", dt.datetime(2024, 3, 1, 2, tzinfo=dt.UTC)),  # epoch seconds
        (1709258400, dt.datetime(2024, 3, 1, 2, tzinfo=dt.UTC)),
    ],
)
def test_instant(raw: Any, expected: dt.datetime) -> None:
    assert instant(raw, "occurred_at", SHANGHAI) == int(expected.timestamp())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2024-13-01", "occurred_at '2024-13-01' is not an ISO date-time or epoch seconds"),
        (
            "1709258400000",
            "occurred_at '1709258400000' is out of range; give seconds, not milliseconds",
        ),
        (-5, "occurred_at '-5' is out of range"),
        (1.5, "occurred_at must be an ISO date-time or epoch seconds, got a number"),
        ("²³⁴⁵⁶⁷⁸⁹¹", "occurred_at '²³⁴⁵⁶⁷⁸⁹¹' is not an ISO date-time or epoch seconds"),
    ],
)
def test_instant_rejects(raw: Any, message: str) -> None:
    with pytest.raises(BadRow) as raised:
        instant(raw, "occurred_at", SHANGHAI)
    assert str(raised.value) == message


def test_integer() -> None:
    assert [integer(x, "value") for x in ("5", " -3 ", "", None, 4, 2.0)] == [
        5,
        -3,
        None,
        None,
        4,
        2,
    ]
    for bad in ("2.5", "x", 2**31, True):
        with pytest.raises(BadRow):
            integer(bad, "value")


def test_occurrence_counter_spans_chunks() -> None:
    counter = OccurrenceCounter()
    try:
        a, b, c = (1, b"a" * 16), (1, b"b" * 16), (2, b"a" * 16)
        assert counter.assign([a, b, a]) == [0, 0, 1]
        assert counter.assign([a, c, b, a]) == [2, 0, 1, 3]
        assert counter.assign([]) == []
    finally:
        counter.close()
