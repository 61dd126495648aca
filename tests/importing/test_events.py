"""import_events: CSV and JSON Lines, idempotency, bad rows, chunked commits."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from core.builtin.events import CORE_EVENT_TYPES
from core.config import Settings
from core.errors import ImportProblems, UserError
from core.importing import ImportReport, import_customers, import_events
from core.store import Store

EVENT_TYPES = [event_type.name for event_type in CORE_EVENT_TYPES]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def epoch(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: dt.tzinfo = SHANGHAI
) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=zone).timestamp())


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def customers(store: Store, settings: Settings, tmp_path: Path) -> None:
    """Customers C1, C2 and C3."""
    path = write(tmp_path / "customers.csv", "external_id,name\nC1,Ann\nC2,Bob\nC3,Cai\n")
    import_customers(store, path, settings).raise_if_rejected()


def events(store: Store) -> list[dict[str, Any]]:
    query = text(
        "SELECT c.external_id AS customer, e.type, e.occurred_at, e.amount, e.value, e.ref, "
        "e.payload, e.source_key FROM events e JOIN customers c ON c.id = e.customer_id "
        "ORDER BY e.id"
    )
    with store.begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        if isinstance(row["payload"], str):  # SQLite hands JSON back as text
            row["payload"] = json.loads(row["payload"])
    return rows


def count(store: Store) -> int:
    with store.begin() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one())


def run(store: Store, path: Path, settings: Settings, **kwargs: Any) -> ImportReport:
    return import_events(store, path, settings, EVENT_TYPES, **kwargs)


GOOD_CSV = """\
customer,type,occurred_at,amount,value,ref,payload
C1,purchase,2024-03-01 10:00:00,12.34,,O-1,
C1,refund,2024-03-02T09:30:00+00:00,0.1,,O-1,"{""reason"": ""broken"", ""items"": 1}"
C2,survey,1709258400,,5,T-9,
C2,purchase,2024-03-05,100,3,O-2,
"""


def test_good_csv_lands_with_exact_values(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    report = run(store, write(tmp_path / "events.csv", GOOD_CSV), settings)

    assert (report.rows_read, report.inserted, report.duplicates, report.rejected) == (4, 4, 0, [])
    rows = events(store)
    assert [
        (r["customer"], r["type"], r["occurred_at"], r["amount"], r["value"], r["ref"])
        for r in rows
    ] == [
        ("C1", "purchase", epoch(2024, 3, 1, 10), 1234, None, "O-1"),
        ("C1", "refund", epoch(2024, 3, 2, 9, 30, zone=dt.UTC), 10, None, "O-1"),
        ("C2", "survey", 1709258400, None, 5, "T-9"),
        ("C2", "purchase", epoch(2024, 3, 5), 10000, 3, "O-2"),
    ]
    assert rows[0]["occurred_at"] == 1709258400  # 10:00 in Shanghai is 02:00 UTC
    assert rows[1]["payload"] == {"items": 1, "reason": "broken"}
    assert rows[0]["payload"] is None
    # <customer id>:<content digest>#<occurrence of that content in the file>
    assert all(re.fullmatch(r"\d{10}:[\w-]{22}#0", r["source_key"]) for r in rows)


def test_good_jsonl_lands(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    lines = [
        {
            "customer_id": "C1",
            "type": "purchase",
            "occurred_at": "2024-03-01T10:00:00",
            "amount": 12.34,
        },
        {"external_id": "C2", "type": "purchase", "occurred_at": 1709258400, "amount": "0.07"},
        {
            "customer": "C3",
            "type": "survey",
            "occurred_at": "2024-03-01",
            "value": 4,
            "ref": "T-1",
            "payload": {"channel": "sms"},
        },
    ]
    path = write(tmp_path / "events.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    report = run(store, path, settings)

    assert (report.rows_read, report.inserted, report.rejected) == (3, 3, [])
    rows = events(store)
    assert [(r["customer"], r["amount"], r["value"], r["payload"]) for r in rows] == [
        ("C1", 1234, None, None),
        ("C2", 7, None, None),
        ("C3", None, 4, {"channel": "sms"}),
    ]
    assert rows[0]["occurred_at"] == epoch(2024, 3, 1, 10)


def test_reimport_adds_nothing(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    path = write(tmp_path / "events.csv", GOOD_CSV)
    run(store, path, settings)
    again = run(store, path, settings)

    assert (again.rows_read, again.inserted, again.duplicates) == (4, 0, 4)
    assert count(store) == 4


def test_overlapping_export_adds_only_new_rows(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    header = "customer,type,occurred_at,amount\n"
    first = write(
        tmp_path / "a.csv",
        header + "C1,purchase,2024-01-01 10:00,5\nC2,purchase,2024-01-02 10:00,6\n",
    )
    second = write(
        tmp_path / "b.csv",
        header + "C2,purchase,2024-01-02 10:00,6\nC3,purchase,2024-01-03 10:00,7\n"
        "C1,purchase,2024-01-01 10:00:00+08:00,5.00\n",  # the same event, written differently
    )
    assert run(store, first, settings).inserted == 2
    report = run(store, second, settings)

    assert (report.inserted, report.duplicates) == (1, 2)
    assert [(r["customer"], r["amount"]) for r in events(store)] == [
        ("C1", 500),
        ("C2", 600),
        ("C3", 700),
    ]


def test_identical_rows_in_one_file_are_all_kept(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    row = "C1,purchase,2024-01-01 10:00,9.99\n"
    path = write(
        tmp_path / "events.csv", "customer,type,occurred_at,amount\n" + row * 3 + "C2" + row[2:]
    )
    # chunks of 2 rows: the third copy is counted against the copies of the first chunk
    report = run(store, path, settings, chunk_size=2)

    assert (report.inserted, report.duplicates) == (4, 0)
    assert sorted(r["source_key"][-2:] for r in events(store)) == ["#0", "#0", "#1", "#2"]
    assert run(store, path, settings, chunk_size=3).inserted == 0  # chunking does not change keys
    # an export that repeats two of the three copies and adds a fourth adds exactly one
    more = write(tmp_path / "more.csv", "customer,type,occurred_at,amount\n" + row * 4)
    assert (run(store, more, settings).inserted, count(store)) == (1, 5)


def test_explicit_event_id_is_the_key(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    header = "event_id,customer,type,occurred_at,amount\n"
    path = write(
        tmp_path / "e.csv", header + "E1,C1,purchase,2024-01-01,1\nE2,C1,purchase,2024-01-01,1\n"
    )
    assert run(store, path, settings).inserted == 2
    corrected = write(tmp_path / "f.csv", header + "E1,C1,purchase,2024-01-01,2\n")
    report = run(store, corrected, settings)

    assert (report.inserted, report.duplicates) == (0, 1)
    assert [r["source_key"] for r in events(store)] == ["id:E1", "id:E2"]


BAD_CSV = """\
customer,type,occurred_at,amount,value,ref,payload
C1,purchase,2024-03-01 10:00,12.34,,,
C1,purchse,2024-03-01 10:00,1,,,
C1,purchase,2024-03-01 10:00,"12,5",,,
C1,purchase,2024-03-01 10:00,1.234,,,
C9,purchase,2024-03-01 10:00,1,,,
C1,survey,2024-03-01 10:00,,high,,
C1,purchase,yesterday,1,,,
,purchase,2024-03-01 10:00,1,,,
C1,purchase,2024-03-01 10:00,1,,,{oops
C1,purchase,2024-03-01 10:00,1,,,[1]
C1,purchase,,1,,,
C1,,2024-03-01 10:00,1,,,
C1,purchase,1700000000000,1,,,
C1,purchase,2024-03-01 10:00,1
C2,"survey
",2024-03-02 10:00,,5,,
C2,purchase,2024-03-01 10:00,NaN,,,
C2,purchase,2024-03-01 10:00,7.50,,,
"""


def test_bad_rows_are_reported_with_lines_and_good_rows_land(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    path = write(tmp_path / "events.csv", BAD_CSV)
    report = run(store, path, settings, chunk_size=4)

    assert [str(p) for p in report.rejected] == [
        f"{path}:3: unknown event type 'purchse' (did you mean 'purchase'?)",
        f"{path}:4: amount '12,5' is not a number",
        f"{path}:5: amount '1.234' has more than 2 decimal places",
        f"{path}:6: unknown customer 'C9'",
        f"{path}:7: value 'high' is not an integer",
        f"{path}:8: occurred_at 'yesterday' is not an ISO date-time or epoch seconds",
        f"{path}:9: customer is missing",
        f"{path}:10: payload is not valid JSON: {{oops",
        f"{path}:11: payload must be a JSON object, got an array",
        f"{path}:12: occurred_at is missing",
        f"{path}:13: type is missing",
        f"{path}:14: occurred_at '1700000000000' is out of range; give seconds, not milliseconds",
        f"{path}:15: row has 4 fields, the header has 7",
        f"{path}:18: amount 'NaN' is not a number",
    ]
    assert (report.rows_read, report.inserted, report.rejected_count) == (17, 3, 14)
    assert [(r["customer"], r["type"], r["amount"]) for r in events(store)] == [
        ("C1", "purchase", 1234),
        ("C2", "survey", None),
        ("C2", "purchase", 750),
    ]
    with pytest.raises(ImportProblems) as raised:
        report.raise_if_rejected()
    assert "14 row(s) rejected" in raised.value.summary
    assert f"{path}:4: amount '12,5' is not a number" in str(raised.value)


def test_bad_jsonl_lines(store: Store, settings: Settings, tmp_path: Path, customers: None) -> None:
    good = '{"customer": "C1", "type": "purchase", "occurred_at": "2024-01-01", "amount": 1}'
    content = "\n".join(
        [
            good,
            '{"customer": "C1", "type": "purchase", ',
            "[1, 2]",
            '{"customer": "C1", "type": "purchase", "occurred_at": "2024-01-01", "amout": 1}',
            '{"customer": "C1", "type": "purchase", "occurred_at": "2024-01-01", "amount": true}',
            '{"customer": "C1", "type": "survey", "occurred_at": "2024-01-01", "value": 2.5}',
            "",
            '{"customer": "C1", "customer_id": "C2", "type": "purchase", "occurred_at": "2024-01-01"}',
            '{"customer": {"id": 1}, "type": "purchase", "occurred_at": "2024-01-01"}',
        ]
    )
    path = write(tmp_path / "events.ndjson", content)
    report = run(store, path, settings)

    assert [str(p) for p in report.rejected] == [
        f"{path}:2: not valid JSON: Expecting property name enclosed in double quotes",
        f"{path}:3: expected a JSON object, got an array",
        f"{path}:4: unknown field 'amout' (did you mean 'amount'?)",
        f"{path}:5: amount must be a number, got a boolean",
        f"{path}:6: value '2.5' is not an integer",
        f"{path}:8: two fields give customer",
        f"{path}:9: customer must be text, got an object",
    ]
    assert (report.rows_read, report.inserted) == (8, 1)


def test_header_problems_stop_the_import(store: Store, settings: Settings, tmp_path: Path) -> None:
    unknown = write(tmp_path / "a.csv", "customer,type,occurred_at,amout\n")
    with pytest.raises(
        UserError, match=r"a.csv:1: unknown column 'amout' \(did you mean 'amount'\?\)"
    ):
        run(store, unknown, settings)
    missing = write(tmp_path / "b.csv", "customer,occurred_at\n")
    with pytest.raises(UserError, match=r"b.csv:1: missing column 'type'"):
        run(store, missing, settings)
    empty = write(tmp_path / "c.csv", "")
    with pytest.raises(UserError, match="the file is empty"):
        run(store, empty, settings)
    with pytest.raises(UserError, match="cannot tell the format"):
        run(store, write(tmp_path / "d.txt", ""), settings)


def test_bom_and_format_override(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes("\ufeffcustomer,type,occurred_at\r\nC1,contact,2024-01-01\r\n".encode())
    report = run(store, path, settings, fmt="csv")
    assert (report.inserted, report.rejected) == (1, [])


def test_not_utf8_is_a_user_error(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("customer,type,occurred_at,ref\nC1,contact,2024-01-01,张三\n".encode("gbk"))
    with pytest.raises(UserError, match=r"gbk\.csv:2: the file is not UTF-8 text"):
        run(store, path, settings)


def test_progress_and_resume_after_a_crash(
    store: Store, settings: Settings, tmp_path: Path, customers: None
) -> None:
    # ten rows over three customers: copies of the same purchase, each kept
    lines = [f"C{1 + i % 3},purchase,2024-01-01 10:00,1.00" for i in range(10)]
    path = write(
        tmp_path / "events.csv", "customer,type,occurred_at,amount\n" + "\n".join(lines) + "\n"
    )
    seen: list[int] = []

    def crash(bytes_read: int) -> None:
        seen.append(bytes_read)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(store, path, settings, chunk_size=4, progress=crash)
    assert count(store) == 4  # the first chunk was committed
    assert 0 < seen[0] <= path.stat().st_size

    seen.clear()
    report = run(store, path, settings, chunk_size=4, progress=seen.append)
    assert (report.inserted, report.duplicates, count(store)) == (6, 4, 10)
    assert len(seen) == 3  # chunks of 4 + 4 + 2 rows
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size


def test_rejected_rows_are_capped_but_counted(tmp_path: Path) -> None:
    report = ImportReport(tmp_path / "x.csv")
    for line in range(2, 1503):
        report.reject(line, "bad")
    assert (len(report.rejected), report.rejected_count) == (1000, 1501)
    with pytest.raises(ImportProblems) as raised:
        report.raise_if_rejected()
    assert str(raised.value.problems[-1]).endswith("... and 501 more rejected rows")
    ImportReport(tmp_path / "y.csv").raise_if_rejected()  # nothing rejected: no error
