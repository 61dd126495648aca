"""Importing customers from CSV or JSON Lines: an upsert keyed by external_id.

Columns: ``external_id`` (required; ``id`` and ``customer_id`` are aliases), ``name``,
``email``, ``phone``, ``locale``, ``timezone`` (IANA), ``birthday`` (YYYY-MM-DD, or
MM-DD without a year), ``joined_at`` (ISO date or date-time, naive = the configured
zone, or epoch seconds), ``account_manager``, consent (CSV: ``consent_email``,
``consent_sms``, ... as yes/no; JSON Lines: a ``consent`` object) and any other
column, which goes to ``attributes``.

Re-importing a customer updates the columns the file has and leaves the others
alone, so a file of e-mail addresses does not erase phone numbers.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel

from core.config import Settings
from core.errors import StoreError, UserError
from core.importing.readers import (
    BadRow,
    CsvReader,
    JsonlReader,
    detect_format,
    instant,
    json_object,
    text,
)
from core.importing.report import ImportReport
from core.store import Store
from core.store.statistics import analyze_if_grown
from core.store.tables import Customer, table_of
from core.suggest import did_you_mean

CHUNK_SIZE = 10_000
LOOKUP_BATCH = 5_000

TEXT_COLUMNS: dict[str, int] = {
    "external_id": 128,
    "name": 256,
    "email": 320,
    "phone": 32,
    "locale": 16,
    "timezone": 64,
    "account_manager": 128,
}
COLUMNS = (*TEXT_COLUMNS, "birthday", "joined_at", "consent", "attributes")
ALIASES = {"id": "external_id", "customer_id": "external_id"}
CONSENT_PREFIX = "consent_"
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "f"})

Progress = Callable[[int], None]


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def dialect_insert(store: Store, target: Table) -> PgInsert | SqliteInsert:
    """An INSERT that supports ON CONFLICT on this store's dialect."""
    if store.is_postgres:
        return pg_insert(target)
    if store.dialect == "sqlite":
        return sqlite_insert(target)
    raise StoreError(
        f"importing into a {store.dialect} store is not supported (use SQLite or PostgreSQL)"
    )


def lookup_ids(conn: Connection, external_ids: Iterable[str]) -> dict[str, int]:
    """Customer id by external id, for those that exist."""
    customers = table("customers")
    wanted = list(external_ids)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), LOOKUP_BATCH):
        batch = wanted[start : start + LOOKUP_BATCH]
        query = select(customers.c.external_id, customers.c.id).where(
            customers.c.external_id.in_(batch)
        )
        for external_id, customer_id in conn.execute(query):
            found[external_id] = customer_id
    return found


def canonical_column(name: str) -> str:
    """The customers column a header or JSON key names; an attribute keeps its own name."""
    lowered = name.strip().lower()
    lowered = ALIASES.get(lowered, lowered)
    if lowered in COLUMNS or lowered.startswith(CONSENT_PREFIX):
        return lowered
    return name.strip()


def import_customers(
    store: Store,
    path: Path | str,
    settings: Settings,
    fmt: str | None = None,
    progress: Progress | None = None,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    """Upsert the customers of a CSV or JSON Lines file; bad rows are reported, good rows kept."""
    path = Path(path)
    kind = detect_format(path, fmt)
    if kind == "cdnow":
        raise UserError(
            "the cdnow format holds purchases: import it as events (customers are created)"
        )
    started = time.perf_counter()
    report = ImportReport(path)
    zone = settings.zone
    reader: CsvReader | JsonlReader
    with ExitStack() as stack:
        if kind == "csv":
            reader = stack.enter_context(CsvReader(path))
            rows = reader.rows(_csv_keys(reader))
        else:
            reader = stack.enter_context(JsonlReader(path))
            rows = reader.rows()
        writer = _CustomerWriter(store, report)
        for line, row in rows:
            report.rows_read += 1
            if isinstance(row, str):
                report.reject(line, row)
                continue
            try:
                writer.add(parse_customer(row, zone, canonical=kind != "csv"))
            except BadRow as exc:
                report.reject(line, str(exc))
                continue
            if len(writer.pending) >= chunk_size:
                writer.flush()
                if progress:
                    progress(reader.bytes_read)
        writer.flush()
        if progress:
            progress(reader.bytes_read)
    with store.begin() as conn:  # the first cycle after a bulk load plans on these
        analyze_if_grown(conn, table_of(Customer).name, report.inserted)
    report.elapsed = time.perf_counter() - started
    return report


def _csv_keys(reader: CsvReader) -> list[str]:
    keys = [canonical_column(name) for name in reader.header]
    where = f"{reader.path}:{reader.header_line}"
    seen: dict[str, str] = {}
    for raw, key in zip(reader.header, keys, strict=True):
        if not raw:
            raise UserError(f"{where}: the header has an empty column name")
        if key in seen:
            raise UserError(f"{where}: columns '{seen[key]}' and '{raw}' both give {key}")
        seen[key] = raw
    if "external_id" not in seen:
        hint = did_you_mean("external_id", reader.header)
        raise UserError(
            f"{where}: missing column 'external_id' (also accepted: id, customer_id){hint}"
        )
    return keys


def parse_customer(
    row: dict[str, Any], zone: ZoneInfo, *, canonical: bool = False
) -> tuple[frozenset[str], dict[str, Any]]:
    """(the columns this row sets, their values) or BadRow.

    ``canonical`` maps each key through :func:`canonical_column` first (JSON Lines;
    a CSV reader has already done it once for the header).
    """
    values: dict[str, Any] = {}
    consent: dict[str, bool] = {}
    attributes: dict[str, Any] = {}
    present: set[str] = set()
    for key, raw in _items(row, canonical):
        if key in TEXT_COLUMNS:
            values[key] = text(raw, key, TEXT_COLUMNS[key])
            present.add(key)
        elif key == "birthday":
            values["birthday"], values["birth_month"], values["birth_day"] = _birthday(raw)
            present.update(("birthday", "birth_month", "birth_day"))
        elif key == "joined_at":
            values["joined_at"] = instant(raw, key, zone)
            present.add(key)
        elif key == "consent":
            for channel, flag in (json_object(raw, key) or {}).items():
                consent[channel] = _flag(flag, f"consent.{channel}")
            present.add(key)
        elif key.startswith(CONSENT_PREFIX):
            if (flag := _optional_flag(raw, key)) is not None:
                consent[key[len(CONSENT_PREFIX) :]] = flag
            present.add("consent")
        elif key == "attributes":
            attributes.update(json_object(raw, key) or {})
            present.add(key)
        else:
            if raw is not None and raw != "":
                attributes[key] = raw
            present.add("attributes")
    if values.get("external_id") is None:
        raise BadRow("external_id is missing")
    if (email := values.get("email")) is not None and not valid_email(email):
        raise BadRow(f"invalid e-mail '{email}'")
    if (zone_name := values.get("timezone")) is not None:
        _check_zone(zone_name)
    values["consent"] = consent
    values["attributes"] = attributes
    present.add("external_id")
    return frozenset(present), values


def _items(row: dict[str, Any], canonical: bool) -> Iterator[tuple[str, Any]]:
    if not canonical:
        yield from row.items()
        return
    seen: dict[str, str] = {}
    for raw_key, value in row.items():
        key = canonical_column(raw_key)
        if key in seen:
            raise BadRow(f"fields '{seen[key]}' and '{raw_key}' both give {key}")
        seen[key] = raw_key
        yield key, value


def valid_email(address: str) -> bool:
    """A light check: one @, something before it, a dot inside the domain, no spaces."""
    local, at, domain = address.partition("@")
    if not at or not local or "@" in domain or any(c.isspace() for c in address):
        return False
    return "." in domain.strip(".") and ".." not in domain


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRow(
            f"unknown time zone '{name}' (use an IANA name such as Asia/Shanghai)"
        ) from None


def _birthday(raw: Any) -> tuple[dt.date | None, int | None, int | None]:
    value = text(raw, "birthday", 10)
    if value is None:
        return None, None, None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return day, day.month, day.day
        if len(value) in (5, 7):  # MM-DD or --MM-DD: a birthday without a year
            leap = dt.date.fromisoformat("2000-" + value[-5:])
            return None, leap.month, leap.day
    except ValueError:
        pass
    raise BadRow(f"birthday '{value}' is not a date (YYYY-MM-DD, or MM-DD without the year)")


def _flag(value: Any, name: str) -> bool:
    flag = _optional_flag(value, name)
    if flag is None:
        raise BadRow(f"{name} is empty; give yes or no")
    return flag


def _optional_flag(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise BadRow(f"{name} '{value}' is not yes or no")


class _CustomerWriter:
    """Collects parsed customers and upserts them a chunk at a time, one transaction each."""

    def __init__(self, store: Store, report: ImportReport) -> None:
        self.store = store
        self.report = report
        self.pending: list[tuple[frozenset[str], dict[str, Any]]] = []
        self._customers = table("customers")

    def add(self, item: tuple[frozenset[str], dict[str, Any]]) -> None:
        self.pending.append(item)

    def flush(self) -> None:
        if not self.pending:
            return
        latest: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}
        repeats = 0
        for present, values in self.pending:
            ext = values["external_id"]
            if ext in latest:
                repeats += 1  # the same customer twice in one chunk: the later row wins
                earlier_present, earlier_values = latest[ext]
                values = {**earlier_values, **{k: v for k, v in values.items() if k in present}}
                present = earlier_present | present
            latest[ext] = (present, values)
        self.pending = []
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for present, values in latest.values():
            groups.setdefault(present, []).append(values)
        with self.store.begin() as conn:
            existing = len(lookup_ids(conn, latest))
            for present, rows in groups.items():
                conn.execute(self._upsert(present), rows)
        self.report.updated += existing + repeats
        self.report.inserted += len(latest) - existing

    def _upsert(self, present: frozenset[str]) -> PgInsert | SqliteInsert:
        stmt = dialect_insert(self.store, self._customers)
        update = sorted(present - {"external_id"})
        if not update:
            return stmt.on_conflict_do_nothing(index_elements=["external_id"])
        return stmt.on_conflict_do_update(
            index_elements=["external_id"],
            set_={name: stmt.excluded[name] for name in update},
        )


__all__ = [
    "dialect_insert",
    "import_customers",
    "lookup_ids",
    "parse_customer",
    "valid_email",
]
