"""The CDNOW transaction format: the sample shipped with the tests and the master file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from core.builtin.events import CORE_EVENT_TYPES
from core.config import Settings
from core.errors import UserError
from core.importing import import_events
from core.store import Store

EVENT_TYPES = [event_type.name for event_type in CORE_EVENT_TYPES]
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
MASTER = (REPO / ".." / "shared" / "data" / "cdnow" / "CDNOW_master.txt").resolve()


def totals(store: Store) -> tuple[int, int, int, int, int]:
    """(events, customers with events, customers, total minor units, total CDs)."""
    query = text(
        "SELECT COUNT(*), COUNT(DISTINCT customer_id), SUM(amount), SUM(value) "
        "FROM events WHERE type = 'purchase'"
    )
    with store.begin() as conn:
        events, buyers, amount, cds = conn.execute(query).one()
        customers = conn.execute(text("SELECT COUNT(*) FROM customers")).scalar_one()
    return int(events), int(buyers), int(customers), int(amount), int(cds)


def file_totals(path: Path, amount_column: int) -> tuple[int, int]:
    """Total cents and CDs computed straight from the file, with Decimal."""
    cents = 0
    cds = 0
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue
        cents += int(Decimal(fields[amount_column]) * 100)
        cds += int(fields[amount_column - 1])
    return cents, cds


def test_sample_imports_every_purchase_and_creates_customers(
    store: Store, settings: Settings
) -> None:
    report = import_events(store, SAMPLE, settings, EVENT_TYPES, fmt="cdnow", chunk_size=2000)

    assert (report.rows_read, report.inserted, report.duplicates, report.rejected) == (
        6919,
        6919,
        0,
        [],
    )
    assert report.customers_created == 2357
    cents, cds = file_totals(SAMPLE, 4)
    assert totals(store) == (6919, 2357, 2357, cents, cds)
    assert cents == 24_409_194  # $244,091.94 exactly: no float rounding anywhere

    zone = ZoneInfo(settings.timezone)
    new_year = int(dt.datetime(1997, 1, 1, tzinfo=zone).timestamp())
    with store.begin() as conn:
        first = conn.execute(
            text(
                "SELECT c.external_id, c.joined_at, e.occurred_at, e.amount, e.value FROM events e "
                "JOIN customers c ON c.id = e.customer_id ORDER BY e.id LIMIT 1"
            )
        ).one()
        # the sample holds 19 rows repeated verbatim (two identical purchases on one day)
        repeated = conn.execute(
            text("SELECT COUNT(*) FROM events WHERE source_key LIKE '%#1'")
        ).scalar_one()
    assert tuple(first) == ("00004", new_year, new_year, 2933, 2)  # 00004 0001 19970101 2 29.33
    assert repeated == 19

    again = import_events(store, SAMPLE, settings, EVENT_TYPES, fmt="cdnow")
    assert (again.inserted, again.duplicates, again.customers_created) == (0, 6919, 0)
    assert totals(store)[0] == 6919


@pytest.mark.skipif(
    not MASTER.exists(), reason=f"{MASTER} is not here (only in the shared workspace)"
)
def test_master_file(sqlite_store: Store, settings: Settings) -> None:
    report = import_events(sqlite_store, MASTER, settings, EVENT_TYPES, fmt="cdnow")

    assert (report.rows_read, report.inserted, report.rejected) == (69659, 69659, [])
    assert report.customers_created == 23570
    cents, cds = file_totals(MASTER, 3)
    assert totals(sqlite_store) == (69659, 23570, 23570, cents, cds)


def test_bad_cdnow_rows(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    path.write_text(
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n"
        " 00001 19970132  1   11.77\n"
        " 00002 19970112  x   12.00\n"
        " 00002 19970112  1   12,00\n"
        " 00003 19970112  1\n"
        "\n"
        " 00003 19970112  1   0.00\n"
    )
    report = import_events(store, path, settings, EVENT_TYPES, fmt="cdnow")

    assert [str(p) for p in report.rejected] == [
        f"{path}:3: date '19970132' is not YYYYMMDD",
        f"{path}:4: number of CDs 'x' is not an integer",
        f"{path}:5: dollar value '12,00' is not a number",
        f"{path}:6: expected 4 columns, found 3",
    ]
    assert (report.rows_read, report.inserted, report.customers_created) == (6, 2, 2)


def test_not_cdnow(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("customer,type,occurred_at\n")
    with pytest.raises(UserError, match=r"events.csv:1: not a CDNOW transaction file"):
        import_events(store, path, settings, EVENT_TYPES, fmt="cdnow")
