"""The daemon in-process on SQLite and PostgreSQL: schedules, delivery, signals, reload, metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.daemon.runner import Daemon
from core.store import LedgerEntry, Store
from core.store.tables import table_of
from core.testing_smtp import SmtpSink

from .conftest import HELLO, add_customers, app_on, wait_until, write_workdir

ledger = table_of(LedgerEntry)


def statuses(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        rows = conn.execute(select(ledger.c.status, func.count()).group_by(ledger.c.status))
        return {status: count for status, count in rows}


def test_the_daemon_evaluates_delivers_serves_metrics_and_stops_on_sigterm(
    store: Store, tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = write_workdir(
        tmp_path, smtp_server.settings(), daemon={"metrics": {"enabled": True, "port": 0}}
    )
    add_customers(store, 25)
    daemon = Daemon(app_on(store, config))

    async def scenario() -> tuple[int, str, dict[str, object]]:
        task = asyncio.create_task(daemon.run())
        await wait_until(lambda: len(smtp_server.messages) == 25)
        await wait_until(lambda: statuses(store) == {"sent": 25})
        async with httpx.AsyncClient() as client:
            base = f"http://127.0.0.1:{daemon.metrics_port}"
            metrics = (await client.get(f"{base}/metrics")).text
            health = (await client.get(f"{base}/health")).json()
        os.kill(os.getpid(), signal.SIGTERM)
        return await asyncio.wait_for(task, 20), metrics, health

    code, metrics, health = asyncio.run(scenario())

    assert code == 0
    assert 'patron_cycles_total{outcome="ok"} 1' in metrics
    assert 'patron_rule_matches_total{rule="hello"} 25' in metrics
    assert 'patron_messages_sent_total{channel="email"} 25' in metrics
    assert "patron_delivery_latency_seconds_count 25" in metrics
    assert "# TYPE patron_queue_depth gauge" in metrics
    assert health["status"] == "ok" and health["rules"] == 1
    assert len(set(smtp_server.message_ids)) == 25


def test_sigterm_mid_delivery_releases_the_rest_and_a_restart_sends_them_once(
    store: Store, tmp_path: Path, smtp_sink: object
) -> None:
    sink = smtp_sink(delay=0.05)  # type: ignore[operator]
    config = write_workdir(tmp_path, sink.settings(), delivery={"workers": 2, "batch_size": 10})
    add_customers(store, 40)

    async def run_until(condition: object) -> int:
        daemon = Daemon(app_on(store, config))
        task = asyncio.create_task(daemon.run())
        await wait_until(condition)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGTERM)
        return await asyncio.wait_for(task, 20)

    assert asyncio.run(run_until(lambda: len(sink.messages) >= 8)) == 0
    first = statuses(store)
    assert 8 <= first["sent"] < 40 and first["sent"] + first["pending"] == 40
    assert first["sent"] == len(sink.messages)  # everything that left was recorded

    assert asyncio.run(run_until(lambda: statuses(store).get("sent") == 40)) == 0
    counts = Counter(sink.message_ids)
    assert len(counts) == 40 and max(counts.values()) == 1  # nothing lost, nothing twice


@pytest.mark.postgres
def test_two_daemons_share_a_postgres_store(
    postgres_store: Store, tmp_path: Path, smtp_sink: object
) -> None:
    sink = smtp_sink(delay=0.01)  # type: ignore[operator]
    config = write_workdir(tmp_path, sink.settings(), delivery={"workers": 2, "batch_size": 5})
    add_customers(postgres_store, 60)
    daemons = [Daemon(app_on(postgres_store, config)) for _ in range(2)]

    async def scenario() -> list[int]:
        tasks = [asyncio.create_task(d.run()) for d in daemons]
        await wait_until(lambda: statuses(postgres_store).get("sent") == 60, timeout=90)
        for daemon in daemons:
            daemon.stop.set()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(scenario()) == [0, 0]
    counts = Counter(sink.message_ids)
    assert len(counts) == 60 and max(counts.values()) == 1
    cycles = [d.metrics.counters["patron_cycles_total"] for d in daemons]
    ran = sum(c.get((("outcome", "ok"),), 0) for c in cycles)
    assert ran >= 1  # one daemon evaluated; the other skipped or found nothing due
    with postgres_store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 60
    sent = [d.metrics.counters["patron_messages_sent_total"] for d in daemons]
    assert sum(sum(c.values()) for c in sent) == 60


def test_a_broken_edit_is_reported_and_the_last_good_set_keeps_running(
    store: Store, tmp_path: Path, smtp_server: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_workdir(tmp_path, smtp_server.settings())
    daemon = Daemon(app_on(store, config))
    daemon.load()
    assert daemon.live is not None
    good = daemon.live

    rule_file = tmp_path / "rules" / "hello.yaml"
    rule_file.write_text(rule_file.read_text().replace("has_email", "has_emial"))
    with caplog.at_level(logging.INFO, logger="patron.daemon"):
        assert daemon.reload() is False
    assert daemon.live is good
    assert "unknown feature 'has_emial' (did you mean 'has_email'?)" in caplog.text
    assert "the last good set keeps running" in caplog.text

    rule_file.write_text(rule_file.read_text().replace("has_emial", "has_email"))
    template = tmp_path / "templates" / "care" / "hello.en.j2"
    template.write_text(HELLO.replace("{{ customer.name }}", "{{ customer.nmae }}", 1))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="patron.daemon"):
        assert daemon.reload() is False
    assert f"{template}:1: customer has no field 'nmae'" in caplog.text  # the real file, not a copy
    assert daemon.live is good

    template.write_text(HELLO.replace("Hello", "Good day"))
    assert daemon.reload() is True
    assert daemon.live is not good
    rendered = daemon.live.catalog.render(
        "care/hello", "en", {"customer": {"name": "Ada"}, "purchase_count": 1}
    )
    assert rendered.subject == "Good day Ada"
    template.write_text("{% block body %}half-saved {{ ")  # a later broken save is not used
    assert daemon.reload() is False
    rendered = daemon.live.catalog.render(
        "care/hello", "en", {"customer": {"name": "Ada"}, "purchase_count": 1}
    )
    assert rendered.subject == "Good day Ada"
    good.discard()


def test_the_running_daemon_picks_up_a_new_rule(
    store: Store, tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = write_workdir(tmp_path, smtp_server.settings())
    add_customers(store, 3)
    daemon = Daemon(app_on(store, config))
    second = (tmp_path / "rules" / "hello.yaml").read_text().replace("id: hello", "id: hello-again")
    broken = "rules:\n  - id: broken\n    schedule: every 1d\n"

    async def scenario() -> int:
        task = asyncio.create_task(daemon.run())
        await wait_until(lambda: len(smtp_server.messages) == 3)
        (tmp_path / "rules" / "broken.yaml").write_text(broken)
        await wait_until(
            lambda: (
                daemon.metrics.counters["patron_reloads_total"].get((("outcome", "rejected"),)) == 1
            )
        )
        (tmp_path / "rules" / "broken.yaml").write_text(second)
        await wait_until(lambda: len(smtp_server.messages) == 6)
        daemon.stop.set()
        return await task

    assert asyncio.run(scenario()) == 0
    assert daemon.live is not None
    assert sorted(r.id for r in daemon.live.rules.rules) == ["hello", "hello-again"]


def test_bad_rules_at_start_stop_the_daemon(
    store: Store, tmp_path: Path, smtp_server: SmtpSink
) -> None:
    from core.errors import RuleProblems

    config = write_workdir(tmp_path, smtp_server.settings())
    (tmp_path / "rules" / "bad.yaml").write_text("rules: [{id: x}]\n")
    with pytest.raises(RuleProblems):
        Daemon(app_on(store, config)).load()
