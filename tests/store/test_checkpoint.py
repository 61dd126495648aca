"""A cycle's log is checkpointed after the cycle, on a connection of its own."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from core.store import open_store
from core.store.checkpoint import AUTOCHECKPOINT_PAGES, checkpoint_after


def test_a_long_log_is_checkpointed_in_the_background_after_the_block(tmp_path: Path) -> None:
    path = tmp_path / "patron.db"
    store = open_store(f"sqlite:///{path}")
    with store.engine.connect() as conn:
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        conn.commit()
        before = os.path.getsize(path)
        with checkpoint_after(conn, store):
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
            conn.commit()
            with conn.begin():
                conn.execute(text("CREATE TABLE blobs (b BLOB)"))
                for _ in range((AUTOCHECKPOINT_PAGES + 200) // 60):
                    conn.execute(
                        text("INSERT INTO blobs VALUES (zeroblob(:n))"), {"n": 60 * page_size}
                    )
            # Committed, and still only in the log: no checkpoint ran in the commit.
            assert os.path.getsize(path) == before
        assert (
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == AUTOCHECKPOINT_PAGES
        )
        conn.commit()
    assert len(store.background) == 1
    store.wait_for_background()
    assert os.path.getsize(path) > AUTOCHECKPOINT_PAGES * page_size
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM blobs").scalar_one() > 0
    store.dispose()


def test_a_short_log_is_left_to_the_next_commit(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'patron.db'}")
    with store.engine.connect() as conn, checkpoint_after(conn, store), conn.begin():
        conn.execute(text("CREATE TABLE small (x INTEGER)"))
        conn.execute(text("INSERT INTO small VALUES (1)"))
    assert store.background == []
    store.dispose()
