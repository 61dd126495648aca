"""One cycle at a time on PostgreSQL, and what waits for a running one."""

from __future__ import annotations

import threading

import pytest

from core.kept_sets import forget_states, record_state
from core.store import Store
from core.store.cycle_lock import try_cycle_lock


@pytest.mark.postgres
def test_forgetting_kept_state_waits_for_a_running_cycle(postgres_store: Store) -> None:
    """A cycle running while its kept state is forgotten would record it again when it
    commits, and the rebuild asked for would silently not happen."""
    store = postgres_store
    forgotten: list[list[str]] = []
    with store.engine.connect() as cycle:
        cycle.begin()
        assert try_cycle_lock(cycle)
        with store.engine.connect() as other, other.begin():
            assert not try_cycle_lock(other)  # a second cycle skips

        def forget() -> None:
            with store.begin() as conn:
                forgotten.append(forget_states(conn))

        thread = threading.Thread(target=forget)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive() and not forgotten  # waiting for the cycle
        record_state(cycle, "purchases", "f", 100, 7)
        cycle.commit()
    thread.join(30)
    assert forgotten == [["purchases"]]
