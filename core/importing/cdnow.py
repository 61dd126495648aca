"""Reading the CDNOW transaction files (Fader, Hardie & Lee 2005).

Two layouts, both whitespace-separated:

- master: a header ``customer_id date number_of_cds dollar_value``, then
  ``00001 19970101 1 11.77``;
- sample: no header, ``master id, sample id, date, number of CDs, dollar value``.

Each row is one purchase by the customer whose external id is the master
customer id exactly as written (``00004``), on that date at midnight in the
configured zone, for ``round(dollars * 100)`` minor units; the number of CDs is
the event's ``value``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import UserError
from core.importing.readers import Reader, open_binary

MASTER_COLUMNS = 4
SAMPLE_COLUMNS = 5
_HUNDRED = Decimal(100)
_DATE_CACHE_LIMIT = 100_000

# (external id, occurred_at epoch seconds, amount in minor units, number of CDs)
Purchase = tuple[str, int, int, int]


class CdnowReader(Reader):
    """Streams the purchases of a CDNOW master or sample file."""

    def __init__(self, path: Path, zone: ZoneInfo) -> None:
        self.path = path
        self.zone = zone
        self._file = open_binary(path)
        self._midnights: dict[bytes, int] = {}

    @property
    def bytes_read(self) -> int:
        return self._file.tell()

    def purchases(self) -> Iterator[tuple[int, Purchase | str]]:
        """Each data row as ``(line, purchase)``, or ``(line, reason)`` for a bad row."""
        width = 0
        date_at = 1
        for line, raw in enumerate(self._file, 1):
            fields = raw.split()
            if not fields:
                continue
            if not width:
                width = self._layout(line, fields)
                date_at = 1 if width == MASTER_COLUMNS else 2
                if not fields[0].isdigit():
                    continue  # the master file's header
            if len(fields) != width:
                yield line, f"expected {width} columns, found {len(fields)}"
                continue
            try:
                yield (
                    line,
                    (
                        fields[0].decode("utf-8", "replace"),
                        self._midnight(fields[date_at]),
                        _cents(fields[-1]),
                        _count(fields[-2]),
                    ),
                )
            except ValueError as exc:
                yield line, str(exc)

    def _layout(self, line: int, fields: list[bytes]) -> int:
        if not fields[0].isdigit():
            names = [f.decode("utf-8", "replace").lower() for f in fields]
            if names == ["customer_id", "date", "number_of_cds", "dollar_value"]:
                return MASTER_COLUMNS
        elif len(fields) in (MASTER_COLUMNS, SAMPLE_COLUMNS):
            return len(fields)
        raise UserError(
            f"{self.path}:{line}: not a CDNOW transaction file (expected the header "
            "'customer_id date number_of_cds dollar_value', or 4 or 5 numeric columns)"
        )

    def _midnight(self, token: bytes) -> int:
        cached = self._midnights.get(token)
        if cached is not None:
            return cached
        try:
            if len(token) != 8 or not token.isdigit():
                raise ValueError
            day = dt.date(int(token[:4]), int(token[4:6]), int(token[6:]))
        except ValueError:
            raise ValueError(f"date '{token.decode('ascii', 'replace')}' is not YYYYMMDD") from None
        instant = int(dt.datetime.combine(day, dt.time(), tzinfo=self.zone).timestamp())
        if len(self._midnights) >= _DATE_CACHE_LIMIT:
            self._midnights.clear()
        self._midnights[token] = instant
        return instant

    def close(self) -> None:
        self._file.close()


def _cents(token: bytes) -> int:
    text = token.decode("ascii", "replace")
    try:
        dollars = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"dollar value '{text}' is not a number") from None
    if not dollars.is_finite():
        raise ValueError(f"dollar value '{text}' is not a number")
    return int((dollars * _HUNDRED).to_integral_value(rounding=ROUND_HALF_UP))


def _count(token: bytes) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(
            f"number of CDs '{token.decode('ascii', 'replace')}' is not an integer"
        ) from None
