"""The synthetic customer base: deterministic, plausible, and importable as it is."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.builtin.events import CORE_EVENT_TYPES
from core.config import Settings
from core.demo import write_demo_files
from core.demo.synthetic import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    generate_customers,
    generate_events,
    random_streams,
)
from core.importing import import_customers, import_events
from core.store import Store

AS_OF = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CUSTOMERS = 500
AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")
EVENT_TYPES = {t.name for t in CORE_EVENT_TYPES}

Rows = list[dict[str, str]]


def read(path: Path) -> tuple[list[str], Rows]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_demo_files(tmp_path_factory.mktemp("demo"), customers=CUSTOMERS, as_of=AS_OF)


@pytest.fixture(scope="module")
def customers(demo_files: tuple[Path, Path]) -> Rows:
    header, rows = read(demo_files[0])
    assert tuple(header) == CUSTOMER_COLUMNS
    return rows


@pytest.fixture(scope="module")
def events(demo_files: tuple[Path, Path]) -> Rows:
    header, rows = read(demo_files[1])
    assert tuple(header) == EVENT_COLUMNS
    return rows


def test_the_same_seed_writes_the_same_files(tmp_path: Path, demo_files: tuple[Path, Path]) -> None:
    again = write_demo_files(tmp_path / "again", customers=CUSTOMERS, as_of=AS_OF)
    for first, second in zip(demo_files, again, strict=True):
        assert first.read_bytes() == second.read_bytes()
    other = write_demo_files(tmp_path / "other", customers=CUSTOMERS, seed=8, as_of=AS_OF)
    assert other[0].read_bytes() != demo_files[0].read_bytes()


def test_the_building_blocks_give_the_rows_of_the_files(customers: Rows, events: Rows) -> None:
    people, histories = random_streams(7)
    generated = list(generate_customers(CUSTOMERS, people, AS_OF))
    assert [c.row for c in generated] == customers
    assert list(generate_events(generated, histories, AS_OF)) == events


def test_the_proportions_roughly_hold(customers: Rows, events: Rows) -> None:
    n = len(customers)
    assert n == CUSTOMERS

    def share(predicate: Callable[[dict[str, str]], object]) -> float:
        return sum(1 for c in customers if predicate(c)) / n

    assert 0.50 < share(lambda c: c["locale"] == "zh-CN") < 0.70
    assert all(c["timezone"] == "Asia/Shanghai" for c in customers if c["locale"] == "zh-CN")
    assert {c["timezone"] for c in customers if c["locale"] == "en"} == {
        "Europe/London",
        "America/New_York",
        "America/Los_Angeles",
        "Australia/Sydney",
        "Asia/Singapore",
    }
    assert 0.03 < share(lambda c: not c["email"]) < 0.14
    assert 0.20 < share(lambda c: not c["phone"]) < 0.40
    assert 0.02 < share(lambda c: c["consent_email"] == "false") < 0.10
    assert 0.05 < share(lambda c: c["account_manager"]) < 0.17
    assert share(lambda c: c["city"]) == 1.0
    joined = [dt.datetime.fromisoformat(c["joined_at"]) for c in customers]
    assert min(joined) > AS_OF - dt.timedelta(days=3 * 366)
    assert 0.02 < sum(AS_OF - j < dt.timedelta(days=30) for j in joined) / n < 0.10

    by_customer: dict[str, Counter[str]] = {}
    for e in events:
        by_customer.setdefault(e["customer"], Counter())[e["type"]] += 1
    purchases = [by_customer.get(c["external_id"], Counter())["purchase"] for c in customers]
    assert 0.10 < sum(p == 1 for p in purchases) / n < 0.35  # one-time buyers and some new
    assert sum(p >= 20 for p in purchases) / n > 0.04  # heavy buyers
    assert 0.05 < sum(bool(k["complaint_opened"]) for k in by_customer.values()) / n < 0.18
    types = Counter(e["type"] for e in events)
    assert types["purchase"] > 0.6 * len(events)
    assert {"refund", "survey", "contact", "contact_replied", "unsubscribe"} <= set(types)
    assert {"complaint_opened", "complaint_responded", "complaint_resolved"} <= set(types)


def test_every_customer_row_is_well_formed(customers: Rows) -> None:
    assert len({c["external_id"] for c in customers}) == len(customers)
    for c in customers:
        if c["email"]:
            local, _, domain = c["email"].partition("@")
            assert re.fullmatch(r"[a-z0-9._]+", local), c["email"]
            assert domain in ("example.com", "example.org", "example.net")
        if c["birthday"]:
            dt.date.fromisoformat(c["birthday"])
        assert dt.datetime.fromisoformat(c["joined_at"]) < AS_OF
        ZoneInfo(c["timezone"])
        assert c["consent_email"] in ("true", "false", "")
        assert c["consent_sms"] in ("true", "false", "")
        if not c["email"]:
            assert c["consent_email"] == ""


def test_every_event_row_is_well_formed(customers: Rows, events: Rows) -> None:
    known = [c["external_id"] for c in customers]
    assert len({e["event_id"] for e in events}) == len(events)
    order = [e["customer"] for e in events]
    grouped = [k for i, k in enumerate(order) if i == 0 or order[i - 1] != k]
    assert grouped == [k for k in known if k in set(order)]  # file order: by customer
    earliest = AS_OF - dt.timedelta(days=3 * 366)
    previous: dict[str, dt.datetime] = {}
    for e in events:
        assert e["type"] in EVENT_TYPES
        when = dt.datetime.fromisoformat(e["occurred_at"])
        assert when.tzinfo is not None
        assert earliest < when < AS_OF
        assert previous.get(e["customer"], when) <= when  # time order within a customer
        previous[e["customer"]] = when
        if e["type"] in ("purchase", "refund"):
            assert AMOUNT.match(e["amount"]) and float(e["amount"]) > 0, e
            assert e["ref"].startswith("O-")
        else:
            assert e["amount"] == ""
        if e["type"] == "survey":
            assert 1 <= int(e["value"]) <= 5
        else:
            assert e["value"] == ""
        if e["type"].startswith("complaint_"):
            assert re.fullmatch(r"T-\d{6}", e["ref"])
        if e["payload"]:
            assert isinstance(json.loads(e["payload"]), dict)


def test_complaint_events_follow_their_ticket(events: Rows) -> None:
    tickets: dict[str, list[str]] = {}
    for e in events:
        if e["type"].startswith("complaint_"):
            tickets.setdefault(e["ref"], []).append(e["type"])
    assert len(tickets) >= 20
    for kinds in tickets.values():
        assert kinds[0] == "complaint_opened"
        assert kinds.count("complaint_opened") == 1
    openings = [json.loads(e["payload"]) for e in events if e["type"] == "complaint_opened"]
    assert {p["severity"] for p in openings} == {"normal", "major", "complex"}
    assert all(p["topic"] for p in openings)


def test_some_birthdays_fall_on_the_day_and_in_the_next_week(customers: Rows) -> None:
    today = soon = 0
    for c in customers:
        if not c["birthday"]:
            continue
        local = AS_OF.astimezone(ZoneInfo(c["timezone"])).date()
        born = dt.date.fromisoformat(c["birthday"])
        days = [(local + dt.timedelta(days=d)).timetuple()[1:3] for d in range(8)]
        if days[0] == (born.month, born.day):
            today += 1
        elif (born.month, born.day) in days[1:]:
            soon += 1
    assert today >= 3
    assert soon >= 5


def test_a_leap_day_as_of_gives_leap_year_birthdays(tmp_path: Path) -> None:
    leap_day = dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)
    people, _ = random_streams(3)
    rows = [c.row for c in generate_customers(200, people, leap_day)]
    born_on_the_day = [r["birthday"] for r in rows if r["birthday"].endswith("-02-29")]
    assert born_on_the_day
    for birthday in born_on_the_day:
        dt.date.fromisoformat(birthday)  # a real date: born in a leap year


def test_as_of_must_carry_a_time_zone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_demo_files(tmp_path, customers=5, as_of=dt.datetime(2026, 1, 1))


def test_an_interrupted_run_leaves_no_file_that_looks_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark reuses events.csv when it exists: a run stopped halfway (a killed
    process, a full disk) must not leave a truncated one under that name."""
    from core.demo import synthetic

    written = 0
    real_event_rows = synthetic.event_rows

    def stop_on_the_tenth(*args: object, **kwargs: object) -> object:
        nonlocal written
        written += 1
        if written == 10:
            raise KeyboardInterrupt
        return real_event_rows(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(synthetic, "event_rows", stop_on_the_tenth)
    with pytest.raises(KeyboardInterrupt):
        write_demo_files(tmp_path, customers=50, as_of=AS_OF)
    assert not (tmp_path / "customers.csv").exists()
    assert not (tmp_path / "events.csv").exists()

    monkeypatch.setattr(synthetic, "event_rows", real_event_rows)
    customers_csv, events_csv = write_demo_files(tmp_path, customers=50, as_of=AS_OF)
    assert len(read(customers_csv)[1]) == 50 and read(events_csv)[1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["customers.csv", "events.csv"]


def test_the_demo_files_import_without_a_rejected_row(
    demo_files: tuple[Path, Path], sqlite_store: Store, settings: Settings
) -> None:
    customers_csv, events_csv = demo_files
    report = import_customers(sqlite_store, customers_csv, settings)
    assert (report.inserted, report.rejected_count) == (CUSTOMERS, 0)
    report = import_events(sqlite_store, events_csv, settings, EVENT_TYPES)
    assert report.rejected_count == 0
    assert report.inserted == report.rows_read > 0
