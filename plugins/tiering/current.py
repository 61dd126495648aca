"""Each customer's tier status now: ``tier_current`` beside the ``tier_states`` history.

The status in force at an instant is a customer's latest ``tier_states`` row at or
before it. Found in the history, that is a search through every row ever written: a
store gains a row per change (tens of thousands a day at a million customers), and the
tier features and the tiering stage each searched all of them every cycle. So the
stage keeps a copy of each customer's latest row in ``tier_current``, written with the
history in the cycle's transaction, and reads it by key.

The copy answers for any instant from its ``kept_sets`` row's on: that row records the
latest ``valid_from`` it includes, and no customer has a later row in the history.
Before that instant (a backtest, a re-rendering of an old firing), without the row (a
store written before the copy existed, or after ``patron kept rebuild``) and in a dry
run that may not write, the history is searched as before; a cycle that may write
first rebuilds the copy from the history (once, in full).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from core.kept_sets import record_state, stored_state
from plugins.tiering.sql import upsert
from plugins.tiering.tables import tier_current, tier_states

STATE_NAME = "tier_current"  # its row in kept_sets (not a feature set's name)
VERSION = "1"  # a new copy's layout or meaning: rebuilt from the history
COLUMNS = [c.name for c in tier_states.columns]


def latest_states(as_of: int) -> Any:
    """Each customer's ``tier_states`` row in force at ``as_of``, searched in the
    history (a subquery)."""
    earlier = tier_states.alias("earlier")
    latest = (
        select(func.max(earlier.c.valid_from))
        .where(earlier.c.customer_id == tier_states.c.customer_id, earlier.c.valid_from <= as_of)
        .scalar_subquery()
    )
    return select(tier_states).where(tier_states.c.valid_from == latest).subquery("tier_now")


def _stands_at(conn: Connection) -> int:
    """The latest ``valid_from`` in the history (0 when it is empty)."""
    latest = select(func.coalesce(func.max(tier_states.c.valid_from), 0))
    return int(conn.execute(latest).scalar_one())


def _kept(conn: Connection) -> Any:
    """The copy's ``kept_sets`` row, if the copy is of this version."""
    state = stored_state(conn, STATE_NAME)
    return state if state is not None and state.fingerprint == VERSION else None


def rebuild(conn: Connection) -> None:
    """Copy every customer's latest ``tier_states`` row into ``tier_current``."""
    stands_at = _stands_at(conn)
    conn.execute(tier_current.delete())
    latest = latest_states(stands_at)
    conn.execute(
        tier_current.insert().from_select(COLUMNS, select(*(latest.c[n] for n in COLUMNS)))
    )
    record_state(conn, STATE_NAME, VERSION, stands_at, 0)


def states_in_force(conn: Connection, as_of: int, *, may_write: bool) -> Any:
    """Each customer's ``tier_states`` row in force at ``as_of`` (a subquery with its
    columns): from the copy where it answers for ``as_of`` (rebuilt first when it is
    missing or outdated, where the caller ``may_write``), else searched in the history."""
    state = _kept(conn)
    if state is None and may_write:
        rebuild(conn)
        state = _kept(conn)
    if state is not None and state.as_of <= as_of:
        return select(*(tier_current.c[n] for n in COLUMNS)).subquery("tier_now")
    return latest_states(as_of)


def keep_current(conn: Connection, decided: Any, as_of: int) -> None:
    """After ``tier_states`` rows valid from ``as_of`` were written for the customers of
    ``decided`` (a table keyed by customer), copy each over the customer's row in
    ``tier_current`` unless that one is later (a cycle at an earlier instant), and move
    the copy's instant on. What the history holds is copied, not what was decided: a
    cycle run again at the same instant keeps the row written first."""
    state = _kept(conn)
    if state is None:
        rebuild(conn)  # from the history, which holds the rows just written
        return
    written = (
        select(*(tier_states.c[n] for n in COLUMNS))
        .select_from(decided.join(tier_states, tier_states.c.customer_id == decided.c.customer_id))
        .where(tier_states.c.valid_from == as_of)
    )
    insert = upsert(conn, tier_current)
    statement = insert.from_select(COLUMNS, written).on_conflict_do_update(
        index_elements=["customer_id"],
        set_={n: insert.excluded[n] for n in COLUMNS if n != "customer_id"},
        where=insert.excluded.valid_from >= tier_current.c.valid_from,
    )
    conn.execute(statement)
    record_state(conn, STATE_NAME, VERSION, max(as_of, state.as_of), 0)


__all__ = ["STATE_NAME", "keep_current", "latest_states", "rebuild", "states_in_force"]
