"""``patron import``: streaming, idempotent imports of customers and events.

- :func:`import_customers` upserts customers from CSV or JSON Lines by external id;
- :func:`import_events` appends events from CSV, JSON Lines or the CDNOW format,
  skipping rows already imported (see :mod:`core.importing.events`).

Both read the file in chunks with bounded memory, commit each chunk, report every
bad row with its line number and keep the good rows.
"""

from __future__ import annotations

from core.importing.customers import import_customers
from core.importing.events import import_events
from core.importing.readers import FORMATS, Format, detect_format
from core.importing.report import ImportReport

__all__ = [
    "FORMATS",
    "Format",
    "ImportReport",
    "detect_format",
    "import_customers",
    "import_events",
]
