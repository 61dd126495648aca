"""The daemon's parts on their own: catch-up plans, log masking, Prometheus text."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.config import load_settings
from core.daemon.logs import JsonFormatter, mask_email, mask_phone, setup_logging
from core.daemon.metrics import Metrics, reason_kind
from core.daemon.schedule import catch_up_plan, missed_ticks, schedule_rules
from core.delivery.summary import DeliverySummary
from core.errors import ConfigError
from core.expr import parse
from core.rules import OncePer, RuleDef, Schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600
T0 = 1795395600  # 2026-11-23 09:00 Asia/Shanghai


def rule(rule_id: str, schedule: str) -> RuleDef:
    return RuleDef(
        id=rule_id,
        description="",
        when="has_email",
        condition=parse("has_email"),
        schedule=Schedule.parse(schedule, SHANGHAI),
        once_per=OncePer.parse("once"),
        priority=100,
        category="care",
        enabled=True,
        actions=(),
        file="rules/x.yaml",
        line=1,
    )


HOURLY, DAILY, NEW = rule("hourly", "every 1h"), rule("daily", "0 9 * * *"), rule("new", "every 1d")
LAST = {"hourly": T0 - 3 * HOUR, "daily": T0 - 24 * HOUR}  # down for three hours; 'new' never ran


def test_missed_ticks() -> None:
    assert missed_ticks([HOURLY, DAILY, NEW], LAST, T0) == {
        "hourly": [T0 - 2 * HOUR, T0 - HOUR, T0],
        "daily": [T0],
    }


@pytest.mark.parametrize(
    ("policy", "plan"),
    [
        ("once", [(T0, ["daily", "hourly", "new"])]),
        ("skip", [(T0, ["new"])]),
        (
            "all",
            [
                (T0 - 2 * HOUR, ["hourly"]),
                (T0 - HOUR, ["hourly"]),
                (T0, ["daily", "hourly"]),
                (T0, ["new"]),
            ],
        ),
    ],
)
def test_catch_up_policies(policy: str, plan: list[tuple[int, list[str]]]) -> None:
    assert catch_up_plan(policy, [HOURLY, DAILY, NEW], LAST, T0) == plan


def test_nothing_missed_nothing_to_catch_up() -> None:
    assert catch_up_plan("once", [HOURLY], {"hourly": T0}, T0 + 60) == []


def test_one_job_per_enabled_rule() -> None:
    scheduler = AsyncIOScheduler(timezone=SHANGHAI)
    schedule_rules(scheduler, [HOURLY, DAILY], SHANGHAI, lambda rule_id: None)
    assert sorted(job.id for job in scheduler.get_jobs()) == ["rule:daily", "rule:hourly"]
    schedule_rules(scheduler, [NEW], SHANGHAI, lambda rule_id: None)  # a reload replaces them
    assert [job.id for job in scheduler.get_jobs()] == ["rule:new"]


def test_addresses_never_reach_the_log() -> None:
    stream = io.StringIO()
    setup_logging("json", stream=stream)
    log = logging.getLogger("patron.delivery")
    log.warning(
        "message failed: SMTP 550 (recipient lin.xiaohong@example.com), sms to +86 138-0013-8000",
        extra={"event": "message.failed", "ledger": 7, "to": "lin.xiaohong@example.com"},
    )
    log.info("sent", extra={"event": "message.sent", "to": "+8613800138000", "customer": "C-1"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (
        first["msg"]
        == "message failed: SMTP 550 (recipient l***@example.com), sms to *********8000"
    )
    assert (first["event"], first["level"], first["ledger"], first["to"]) == (
        "message.failed",
        "warning",
        7,
        "l***@example.com",
    )
    assert (second["to"], second["customer"]) == ("*********8000", "C-1")
    logging.getLogger().handlers.clear()


def test_masking() -> None:
    assert mask_email("王小明@例子.中国 and a@b.co") == "王***@例子.中国 and a***@b.co"
    assert (
        mask_phone("13800138000, ticket 2026-11-23, order 4211")
        == "*******8000, ticket 2026-11-23, order 4211"
    )
    assert JsonFormatter().format(logging.makeLogRecord({"msg": "x", "levelname": "INFO"}))


def test_prometheus_text() -> None:
    metrics = Metrics()
    metrics.inc("patron_cycles_total", outcome="ok")
    summary = DeliverySummary(retried=2, deferred=1)
    summary.count_sent("email", 12)
    summary.count_sent("email", 7200)
    summary.count_failed("sms")
    summary.suppress("no consent for marketing")
    summary.suppress("frequency cap: at most 2 marketing messages per 1w")
    metrics.delivery(summary)
    metrics.set("patron_queue_depth", 3, state="due")
    text = metrics.render()
    for line in (
        "# TYPE patron_cycles_total counter",
        'patron_cycles_total{outcome="ok"} 1',
        'patron_messages_sent_total{channel="email"} 2',
        'patron_messages_failed_total{channel="sms"} 1',
        'patron_messages_suppressed_total{reason="consent"} 1',
        'patron_messages_suppressed_total{reason="frequency_cap"} 1',
        "patron_messages_retried_total 2",
        "patron_messages_deferred_total 1",
        'patron_queue_depth{state="due"} 3',
        "# TYPE patron_delivery_latency_seconds histogram",
        'patron_delivery_latency_seconds_bucket{le="30"} 1',
        'patron_delivery_latency_seconds_bucket{le="3600"} 1',
        'patron_delivery_latency_seconds_bucket{le="21600"} 2',
        'patron_delivery_latency_seconds_bucket{le="+Inf"} 2',
        "patron_delivery_latency_seconds_count 2",
    ):
        assert line in text.splitlines(), line


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("no email address", "no_address"),
        ("invalid phone number: expected digits", "invalid_address"),
        ("unsubscribed from marketing messages", "unsubscribed"),
        ("expired: not sent within 2d of the firing", "expired"),
        ("cancelled by an operator after a blast-radius hold", "cancelled"),
        ("account manager 'Zhou' has no email address", "no_address"),
    ],
)
def test_reason_kinds(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "delivery: {quiet_hours: {sms: '9pm-8am'}}\n",
            "patron.yaml: delivery.quiet_hours.sms: Value error, '9pm-8am' is not a window such as '21:00-08:00'",
        ),
        (
            "delivery: {deadline: soon}\n",
            "patron.yaml: delivery.deadline: Value error, 'soon' is not a duration",
        ),
        (
            "delivery: {caps: [{category: service, max: 1, per: 1d}]}\n",
            "patron.yaml: delivery.caps.0.category: Input should be 'care', 'marketing', 'loyalty' or 'any'",
        ),
        (
            "staff: {account_manager: {name: X}}\n",
            "patron.yaml: staff: Value error, 'account_manager' cannot be a staff role",
        ),
        (
            "daemon: {metrics: {enabled: true, host: 0.0.0.0}}\n",
            "patron.yaml: daemon.metrics.host: Input should be '127.0.0.1', '::1' or 'localhost'",
        ),
        (
            "daemon: {catch_up: twice}\n",
            "patron.yaml: daemon.catch_up: Input should be 'once', 'skip' or 'all'",
        ),
    ],
)
def test_bad_delivery_and_daemon_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("patron.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
