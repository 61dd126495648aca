"""A cycle's write-ahead log is copied into the database after the cycle, not in it.

SQLite in WAL mode checkpoints (copies the log into the database file and syncs it)
inside the commit that leaves the log longer than ``wal_autocheckpoint`` pages. A cycle
at a million customers leaves hundreds of megabytes of log: its commit took 2.8 s, 2.1
of them checkpointing. So the cycle's connection turns the automatic checkpoint off for
its transaction, and afterwards, when the log is that long, a thread checkpoints it on a
connection of its own (``PASSIVE``: it waits for no reader or writer) while the caller
goes on; the daemon delivers meanwhile. :meth:`Store.wait_for_background` waits for it,
and so does :meth:`Store.dispose`.

PostgreSQL and in-memory stores are left as they are.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from core.store.engine import Store, sqlite_file

log = logging.getLogger(__name__)

AUTOCHECKPOINT_PAGES = 1000  # SQLite's default, restored after the cycle


@contextmanager
def checkpoint_after(conn: Connection, store: Store) -> Iterator[None]:
    """For the block (a cycle, on ``conn`` outside any transaction), no automatic
    checkpoint on ``conn``; after it, one in the background if the log is long."""
    database = sqlite_file(store.engine)
    if database is None:
        yield
        return
    page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()  # no-op after the cycle's own commit or rollback
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        conn.commit()
        try:
            size = os.path.getsize(f"{database}-wal")
        except OSError:
            size = 0
        if size > AUTOCHECKPOINT_PAGES * page_size:
            start_checkpoint(store)


def start_checkpoint(store: Store) -> threading.Thread:
    """Checkpoint ``store``'s log on a thread and connection of their own."""

    def run() -> None:
        try:
            with store.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
                conn.commit()
        except Exception:  # the next commit checkpoints instead; nothing is lost
            log.warning("background checkpoint of %s failed", store.url, exc_info=True)

    thread = threading.Thread(target=run, name="patron-checkpoint")
    store.background[:] = [t for t in store.background if t.is_alive()]
    store.background.append(thread)
    thread.start()
    return thread


__all__ = ["AUTOCHECKPOINT_PAGES", "checkpoint_after", "start_checkpoint"]
