"""Channel tests reuse the delivery fixtures (customers, ledger rows, templates)."""

from __future__ import annotations

from tests.delivery.conftest import Book, book, catalog, templates

__all__ = ["Book", "book", "catalog", "templates"]
