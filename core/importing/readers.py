"""Format detection, streaming row readers and the field parsers they share.

Readers never hold the file in memory: they yield one ``(line, row)`` pair at a
time, where ``line`` is the 1-based physical line of the row in the file and
``row`` is either the row's fields (a dict) or, for a row that cannot even be
split into fields, the reason it is rejected (a str). ``bytes_read`` says how
far into the file the reader is, for a progress bar.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self
from zoneinfo import ZoneInfo

from core.errors import UserError

Format = Literal["csv", "jsonl", "cdnow"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "cdnow")
EXTENSIONS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

Row = dict[str, Any] | str

# Epoch seconds are written with at least 9 digits (1973-03-03 onwards), so an 8-digit
# value stays a basic ISO date (YYYYMMDD); beyond 11 digits it is milliseconds, not seconds.
_MIN_EPOCH_DIGITS = 9
_MAX_EPOCH_SECONDS = 10**11


class Reader:
    """A row source that is its own context manager: leaving the block closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BadRow(ValueError):
    """A row (or one of its fields) is invalid; the message is the reason shown to the operator."""


def detect_format(path: Path, fmt: str | None = None) -> Format:
    """The format of ``path``: ``fmt`` when given, else from the file's extension."""
    if fmt is not None:
        name = fmt.lower()
        if name == "ndjson":
            name = "jsonl"
        for known in FORMATS:
            if name == known:
                return known
        raise UserError(f"unknown import format '{fmt}' (use one of: {', '.join(FORMATS)})")
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise UserError(
            f"{path}: cannot tell the format from the extension '{path.suffix}'; "
            "name the file .csv, .jsonl or .ndjson, or pass the format (csv, jsonl, cdnow)"
        )
    return found


def open_binary(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


class CsvReader(Reader):
    """A CSV file with a header row, UTF-8 with or without a byte-order mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._binary = open_binary(path)
        self._text = _utf8_text(self._binary)
        self._reader = csv.reader(self._text)
        try:
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            self.close()
            raise self._unreadable(exc) from None
        if header is None:
            self.close()
            raise UserError(f"{path}: the file is empty; a CSV import needs a header row")
        self.header = [name.strip() for name in header]
        self.header_line = self._reader.line_num

    @property
    def bytes_read(self) -> int:
        return self._binary.tell()

    def rows(self, keys: Sequence[str]) -> Iterator[tuple[int, Row]]:
        """Each data row as ``{keys[i]: field i}``; ``keys`` names the header's columns."""
        reader = self._reader
        width = len(keys)
        try:
            for fields in reader:
                if len(fields) != width:
                    if not fields or (len(fields) == 1 and not fields[0].strip()):
                        continue  # blank line
                    if len(fields) < width or any(f.strip() for f in fields[width:]):
                        yield (
                            reader.line_num,
                            f"row has {len(fields)} fields, the header has {width}",
                        )
                        continue
                yield reader.line_num, dict(zip(keys, fields, strict=False))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: Exception) -> UserError:
        where = f"{self.path}:{self._reader.line_num + 1}"
        if isinstance(exc, UnicodeDecodeError):
            where = f"{self.path}:{_first_non_utf8_line(self.path)}"
            return UserError(
                f"{where}: the file is not UTF-8 text; save it as UTF-8 "
                "(CSV UTF-8 in a spreadsheet); the chunks already committed are kept "
                "and importing the fixed file again is safe"
            )
        return UserError(f"{where}: cannot read the CSV: {exc}")

    def close(self) -> None:
        self._text.close()
        self._binary.close()


def _first_non_utf8_line(path: Path) -> int:
    """The first line that is not UTF-8 (text is decoded in blocks, so the error cannot say)."""
    with open(path, "rb") as binary:
        for line, raw in enumerate(binary, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line
    return 1


def _utf8_text(binary: IO[bytes]) -> IO[str]:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


class JsonlReader(Reader):
    """JSON Lines: one JSON object per line; blank lines are skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open_binary(path)

    @property
    def bytes_read(self) -> int:
        return self._file.tell()

    def rows(self) -> Iterator[tuple[int, Row]]:
        loads = json.loads
        for line, raw in enumerate(self._file, 1):
            if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except UnicodeDecodeError:
                yield line, "the line is not UTF-8 text"
                continue
            except ValueError as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                yield line, f"not valid JSON: {reason}"
                continue
            if not isinstance(obj, dict):
                yield line, f"expected a JSON object, got {_json_kind(obj)}"
                continue
            yield line, obj

    def close(self) -> None:
        self._file.close()


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number" if not isinstance(value, bool) else "a boolean"


# -- field parsers ------------------------------------------------------------------------


def text(value: Any, name: str, max_length: int) -> str | None:
    """A text field: stripped, empty → None, longer than the column allows → BadRow."""
    if value.__class__ is str:  # the common case first: every CSV field
        result: str = value.strip()
    elif value is None:
        return None
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        result = str(value)
    else:
        raise BadRow(f"{name} must be text, got {_json_kind(value)}")
    if not result:
        return None
    if len(result) > max_length:
        raise BadRow(f"{name} is longer than {max_length} characters")
    return result


def instant(value: Any, name: str, zone: ZoneInfo) -> int | None:
    """Epoch seconds from an ISO date or date-time (naive = ``zone``) or from epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return _epoch(value, name, str(value))
    if not isinstance(value, str):
        raise BadRow(f"{name} must be an ISO date-time or epoch seconds, got {_json_kind(value)}")
    raw = value.strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) >= _MIN_EPOCH_DIGITS:
        return _epoch(int(raw), name, raw)
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise BadRow(f"{name} '{value}' is not an ISO date-time or epoch seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return int(when.timestamp())


def _epoch(seconds: int, name: str, raw: str) -> int:
    if not 0 <= seconds < _MAX_EPOCH_SECONDS:
        hint = "; give seconds, not milliseconds" if seconds >= _MAX_EPOCH_SECONDS else ""
        raise BadRow(f"{name} '{raw}' is out of range{hint}")
    return seconds


def minor_units(value: Any, name: str) -> int | None:
    """Integer minor units from a decimal amount in major units (``12.34`` → ``1234``)."""
    if value is None:
        return None
    if isinstance(value, str):
        raw = value.strip()
        if not raw:
            return None
    elif isinstance(value, int) and not isinstance(value, bool):
        raw = str(value)
    elif isinstance(value, float):
        raw = repr(value)  # the shortest repr round-trips the literal written in the file
    elif isinstance(value, Decimal):
        raw = str(value)
    else:
        raise BadRow(f"{name} must be a number, got {_json_kind(value)}")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise BadRow(f"{name} '{value}' is not a number") from None
    if not amount.is_finite():
        raise BadRow(f"{name} '{value}' is not a number")
    scaled = amount.scaleb(2)
    minor = int(scaled)
    if minor != scaled:
        raise BadRow(f"{name} '{value}' has more than 2 decimal places")
    if not -(2**63) <= minor < 2**63:
        raise BadRow(f"{name} '{value}' is out of range")
    return minor


_INT32 = 2**31


def integer(value: Any, name: str) -> int | None:
    """A whole number that fits a 32-bit INTEGER column."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadRow(f"{name} must be an integer, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        raw = value.strip()
        if not raw:
            return None
        try:
            result = int(raw)
        except ValueError:
            raise BadRow(f"{name} '{value}' is not an integer") from None
    else:
        raise BadRow(f"{name} '{value}' is not an integer")
    if not -_INT32 <= result < _INT32:
        raise BadRow(f"{name} '{value}' is out of range")
    return result


def json_object(value: Any, name: str) -> dict[str, Any] | None:
    """A JSON object, given as an object (JSON Lines) or as JSON text (a CSV column)."""
    if value is None:
        return None
    if isinstance(value, str):
        raw = value.strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise BadRow(f"{name} is not valid JSON: {_clip(raw)}") from None
    if not isinstance(value, dict):
        raise BadRow(f"{name} must be a JSON object, got {_json_kind(value)}")
    return value


def _clip(raw: str, width: int = 40) -> str:
    return raw if len(raw) <= width else raw[: width - 1] + "…"
