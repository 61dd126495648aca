"""import_customers: CSV and JSON Lines, upsert on re-import, bad rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from core.config import Settings
from core.errors import UserError
from core.importing import import_customers
from core.importing.customers import valid_email
from core.store import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def customers(store: Store) -> dict[str, dict[str, Any]]:
    with store.begin() as conn:
        rows = [
            dict(row._mapping) for row in conn.execute(text("SELECT * FROM customers ORDER BY id"))
        ]
    for row in rows:
        for key in ("consent", "attributes"):
            if isinstance(row[key], str):  # SQLite hands JSON back as text
                row[key] = json.loads(row[key])
        if isinstance(row["birthday"], str):
            row["birthday"] = dt.date.fromisoformat(row["birthday"])
    return {row["external_id"]: row for row in rows}


GOOD_CSV = """\
external_id,name,email,phone,locale,timezone,birthday,joined_at,account_manager,consent_email,consent_sms,city,Source
C1,陈国强,chen@example.org,+86 138 0000 0000,zh-CN,Asia/Shanghai,1977-09-14,2023-10-17T14:14:28+08:00,,true,,杭州,app
C2,Thomas Chua,thomas@example.net,,en,Asia/Singapore,--06-03,2025-04-21,Mia,no,yes,,
"""


def test_good_csv(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_CSV.encode())  # with a byte-order mark
    report = import_customers(store, path, settings)

    assert (report.rows_read, report.inserted, report.updated, report.rejected) == (2, 2, 0, [])
    got = customers(store)
    c1, c2 = got["C1"], got["C2"]
    assert (c1["name"], c1["email"], c1["phone"], c1["locale"], c1["timezone"]) == (
        "陈国强",
        "chen@example.org",
        "+86 138 0000 0000",
        "zh-CN",
        "Asia/Shanghai",
    )
    assert (c1["birthday"], c1["birth_month"], c1["birth_day"]) == (dt.date(1977, 9, 14), 9, 14)
    assert c1["joined_at"] == int(dt.datetime(2023, 10, 17, 6, 14, 28, tzinfo=dt.UTC).timestamp())
    assert c1["consent"] == {"email": True}
    assert c1["attributes"] == {"city": "杭州", "Source": "app"}
    assert c1["account_manager"] is None
    assert (c2["birthday"], c2["birth_month"], c2["birth_day"]) == (None, 6, 3)
    assert c2["joined_at"] == int(dt.datetime(2025, 4, 21, tzinfo=SHANGHAI).timestamp())
    assert c2["consent"] == {"email": False, "sms": True}
    assert c2["attributes"] == {}
    assert c2["account_manager"] == "Mia"


def test_good_jsonl(store: Store, settings: Settings, tmp_path: Path) -> None:
    lines = [
        {"id": "C1", "name": "Ann", "consent": {"email": True, "sms": "no"}, "tier_hint": 3},
        {
            "customer_id": "C2",
            "birthday": "2000-02-29",
            "attributes": {"vip": True},
            "city": "Xi'an",
        },
    ]
    path = write(tmp_path / "customers.jsonl", "\n".join(json.dumps(x) for x in lines))
    report = import_customers(store, path, settings)

    assert (report.inserted, report.rejected) == (2, [])
    got = customers(store)
    assert got["C1"]["consent"] == {"email": True, "sms": False}
    assert got["C1"]["attributes"] == {"tier_hint": 3}
    assert (got["C2"]["birth_month"], got["C2"]["birth_day"]) == (2, 29)
    assert got["C2"]["attributes"] == {"vip": True, "city": "Xi'an"}


def test_reimport_updates_only_the_columns_in_the_file(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    first = write(
        tmp_path / "a.csv", "external_id,name,phone,email\nC1,Ann,123,ann@x.org\nC2,Bob,456,\n"
    )
    import_customers(store, first, settings).raise_if_rejected()
    second = write(tmp_path / "b.csv", "id,email\nC1,ann@new.org\nC3,cai@x.org\nC1,ann@newer.org\n")
    report = import_customers(store, second, settings)

    assert (report.rows_read, report.inserted, report.updated) == (3, 1, 2)
    got = customers(store)
    assert (got["C1"]["name"], got["C1"]["phone"], got["C1"]["email"]) == (
        "Ann",
        "123",
        "ann@newer.org",
    )
    assert (got["C2"]["name"], got["C2"]["phone"]) == ("Bob", "456")
    assert got["C3"]["email"] == "cai@x.org"
    assert len(got) == 3

    again = import_customers(store, second, settings, chunk_size=1)
    assert (again.inserted, again.updated) == (0, 3)
    assert customers(store)["C1"]["email"] == "ann@newer.org"


BAD_CSV = """\
external_id,email,timezone,birthday,joined_at,consent_sms,phone
C1,ok@example.com,,,,,
C2,,,,,,
C3,bob@,,,,,
C4,,Mars/Olympus,,,,
C5,,,1990-02-30,,,
C6,,,,last week,,
C7,,,,,maybe,
,x@example.com,,,,,
C8,,,,,,+86 138 0000 0000 0000 0000 0000 0000
C9,,,
C10,a b@example.com,,,,,
"""


def test_bad_rows(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", BAD_CSV)
    report = import_customers(store, path, settings)

    assert [str(p) for p in report.rejected] == [
        f"{path}:4: invalid e-mail 'bob@'",
        f"{path}:5: unknown time zone 'Mars/Olympus' (use an IANA name such as Asia/Shanghai)",
        f"{path}:6: birthday '1990-02-30' is not a date (YYYY-MM-DD, or MM-DD without the year)",
        f"{path}:7: joined_at 'last week' is not an ISO date-time or epoch seconds",
        f"{path}:8: consent_sms 'maybe' is not yes or no",
        f"{path}:9: external_id is missing",
        f"{path}:10: phone is longer than 32 characters",
        f"{path}:11: row has 4 fields, the header has 7",
        f"{path}:12: invalid e-mail 'a b@example.com'",
    ]
    assert (report.rows_read, report.inserted, report.rejected_count) == (11, 2, 9)
    assert sorted(customers(store)) == ["C1", "C2"]


def test_header_without_external_id(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "externalid,name\nC1,Ann\n")
    with pytest.raises(
        UserError, match=r"c.csv:1: missing column 'external_id'.*did you mean 'externalid'"
    ):
        import_customers(store, path, settings)
    both = write(tmp_path / "d.csv", "id,external_id\nC1,C1\n")
    with pytest.raises(UserError, match="columns 'id' and 'external_id' both give external_id"):
        import_customers(store, both, settings)
    with pytest.raises(UserError, match="import it as events"):
        import_customers(store, path, settings, fmt="cdnow")


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("a@b.cn", True),
        ("first.last+tag@mail.example.com", True),
        ("bob@", False),
        ("@example.com", False),
        ("bob@example", False),
        ("bob@@example.com", False),
        ("bob@example..com", False),
        ("bob@.com", False),
        ("b ob@example.com", False),
    ],
)
def test_valid_email(address: str, ok: bool) -> None:
    assert valid_email(address) is ok
