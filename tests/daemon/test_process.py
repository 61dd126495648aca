"""``patron daemon`` as a real process on a SQLite store, stopped mid-delivery and restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.delivery import message_id
from core.plugins import make_plugin_manager
from core.store import LedgerEntry, Store, open_store
from core.store.tables import table_of
from core.testing_smtp import SmtpSink

from .conftest import add_customers, write_workdir

ledger = table_of(LedgerEntry)
CUSTOMERS = 30


def start(workdir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATRON_DATABASE_URL"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from core.cli.main import main; sys.exit(main())",
            "daemon",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(
    condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the daemon exited early: {process.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out: {process.communicate()[1][-2000:]}")
        time.sleep(0.05)


def sent_keys(store: Store) -> list[str]:
    with store.begin() as conn:
        return list(
            conn.execute(
                select(ledger.c.idempotency_key).where(ledger.c.status == "sent")
            ).scalars()
        )


def count(store: Store) -> int:
    with store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


@pytest.fixture
def workdir(tmp_path: Path, smtp_sink: Callable[..., SmtpSink]) -> tuple[Path, SmtpSink, Store]:
    sink = smtp_sink(delay=0.02)
    write_workdir(
        tmp_path,
        sink.settings(),
        delivery={"workers": 3, "batch_size": 10, "mark_every": 4, "lease": "2s"},
        daemon={"log_format": "json"},
    )
    make_plugin_manager()  # plugin tables exist before the store is created
    store = open_store(f"sqlite:///{tmp_path / 'patron.db'}")
    add_customers(store, CUSTOMERS)
    return tmp_path, sink, store


def test_sigterm_mid_delivery_then_restart(workdir: tuple[Path, SmtpSink, Store]) -> None:
    root, sink, store = workdir
    first = start(root)
    wait_for(lambda: len(sink.messages) >= 10, first)
    first.send_signal(signal.SIGTERM)
    _, log = first.communicate(timeout=30)
    assert first.returncode == 0, log[-2000:]
    events = [json.loads(line)["event"] for line in log.splitlines() if line.startswith("{")]
    assert events[-1] == "daemon.stopped" and "daemon.stopping" in events  # messages in
    assert set(events[events.index("daemon.stopping") :]) <= {  # flight finish in between
        "daemon.stopping",
        "message.sent",
        "daemon.stopped",
    }
    recorded = sent_keys(store)
    assert 10 <= len(recorded) < CUSTOMERS
    assert sorted(sink.message_ids) == sorted(message_id(k) for k in recorded)  # none in limbo
    assert not any(f"c{i}@example.com" in log for i in range(CUSTOMERS))  # addresses masked
    assert '"to": "c***@example.com"' in log

    second = start(root)
    wait_for(lambda: len(sent_keys(store)) == CUSTOMERS, second)
    second.send_signal(signal.SIGTERM)
    second.communicate(timeout=30)
    assert second.returncode == 0
    received = Counter(sink.message_ids)
    assert len(received) == CUSTOMERS and max(received.values()) == 1
    assert count(store) == CUSTOMERS


def test_a_killed_daemon_resends_only_messages_in_flight(
    workdir: tuple[Path, SmtpSink, Store],
) -> None:
    root, sink, store = workdir
    first = start(root)
    wait_for(lambda: len(sink.messages) >= 10, first)
    first.send_signal(signal.SIGKILL)  # no chance to record what is in flight
    first.communicate(timeout=30)
    recorded = set(sent_keys(store))

    second = start(root)  # the killed daemon's leases (2 s) run out, then its rows are due
    wait_for(lambda: len(sent_keys(store)) == CUSTOMERS, second)
    second.send_signal(signal.SIGTERM)
    second.communicate(timeout=30)

    received = Counter(sink.message_ids)
    assert len(received) == CUSTOMERS  # nothing lost
    repeated = {mid for mid, n in received.items() if n > 1}
    assert all(n <= 2 for n in received.values())
    assert not repeated & {message_id(k) for k in recorded}  # a recorded send never repeats
    assert len(repeated) <= 3 + 4  # at most workers in flight + mark_every unrecorded
