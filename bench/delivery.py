"""Benchmark of delivery: patron's outbox against bare aiosmtplib, to one local SMTP sink.

    python bench/delivery.py [--messages 10000] [--connections 8] [--store sqlite|URL]

Writes N customers and one cycle's N pending ``send`` rows (a templated e-mail with a
subject, a plain and an HTML part and a feature), starts an aiosmtpd sink in another
process on 127.0.0.1, then:

1. **bare**: the same N messages rendered beforehand (not timed), sent with aiosmtplib
   over ``--connections`` persistent connections, one coroutine per connection — as
   ``EmailMessage`` objects (``send_message``, the usual way), and again as bytes
   flattened beforehand (``sendmail``, the least work aiosmtplib can do);
2. **patron**: ``deliver_pending`` from the ledger — claim, guards (consent, address,
   caps), features, rendering, MIME, sending over a pool of the same size, recording
   every outcome — until the ledger has nothing due.

Prints the rates and the ratios (target: patron >= 0.8 of bare). Figures, not
assertions: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import func, insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.app import build_app  # noqa: E402
from core.channels.email import EmailChannel, EmailChannelSettings, make_email_channel  # noqa: E402
from core.config import Settings  # noqa: E402
from core.cycle import run_cycle  # noqa: E402
from core.delivery import deliver_pending, message_id  # noqa: E402
from core.plugins import make_plugin_manager  # noqa: E402
from core.store import Customer, LedgerEntry, open_store  # noqa: E402
from core.store.tables import table_of  # noqa: E402
from core.templates import build_context  # noqa: E402
from core.vocabulary import OutgoingMessage  # noqa: E402

AS_OF = 1795395600  # 2026-11-23 09:00 Asia/Shanghai
RULES = """\
rules:
  - id: bench-offer
    description: Everyone with an e-mail address gets the offer.
    schedule: "every 1d"
    when: has_email
    once_per: once
    category: care
    then:
      - send: {channel: email, template: bench/offer}
"""
TEMPLATE = """\
{% block subject %}{{ customer.name }}, a thank-you from us{% endblock %}
{% block body %}
Dear {{ customer.name }},

thank you for {{ purchase_count }} orders with us. Here is a small thank-you:
10% off your next order, valid for 30 days.

Your care team
{% endblock %}
{% block html %}
<p>Dear <b>{{ customer.name }}</b>,</p>
<p>thank you for {{ purchase_count }} orders with us. Here is a small thank-you:
10% off your next order, valid for 30 days.</p>
<p>Your care team</p>
{% endblock %}
"""


def sink_process(port: int, ready: Any) -> None:
    """An aiosmtpd server that accepts everything and keeps nothing."""
    from aiosmtpd.controller import Controller

    class Accept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    controller = Controller(Accept(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def prepare(root: Path, count: int, store_url: str | None, port: int) -> Settings:
    (root / "rules").mkdir()
    (root / "rules" / "bench.yaml").write_text(RULES)
    (root / "templates" / "bench").mkdir(parents=True)
    (root / "templates" / "bench" / "offer.en.j2").write_text(TEMPLATE)
    return Settings.model_validate(
        {
            "database_url": store_url or f"sqlite:///{root / 'bench.db'}",
            "default_locale": "en",
            "base_dir": root,
            "rule_paths": [root / "rules"],
            "template_paths": [root / "templates"],
            "channels": {
                "email": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "from": "Care <care@example.com>",
                }
            },
            "delivery": {"blast_radius": None},
        }
    )


def fill(settings: Settings, count: int) -> Any:
    make_plugin_manager()
    store = open_store(settings.resolved_database_url)
    rows = [
        {
            "external_id": f"B{i:06d}",
            "name": f"Customer {i}",
            "email": f"customer{i}@example.com",
            "locale": "en",
            "consent": {"email": True},
            "attributes": {},
        }
        for i in range(count)
    ]
    with store.begin() as conn:
        conn.execute(insert(table_of(Customer)), rows)
    return store


def pre_rendered(app: Any, settings: Settings, count: int) -> list[EmailMessage]:
    """The messages patron will send, built in advance (for the bare run)."""
    channel = make_email_channel(
        EmailChannelSettings.model_validate(settings.channels["email"]), settings
    )
    assert isinstance(channel, EmailChannel)
    messages = []
    for i in range(count):
        customer = {"external_id": f"B{i:06d}", "name": f"Customer {i}", "locale": "en"}
        context = build_context(
            customer, {"purchase_count": 0}, {"id": "bench-offer"}, AS_OF, settings.zone, "CNY"
        )
        rendered = app.catalog.render("bench/offer", "en", context)
        key = f"bench-offer/once/{i}/0"
        messages.append(
            channel.build(
                OutgoingMessage(
                    i,
                    key,
                    message_id(key),
                    "email",
                    f"customer{i}@example.com",
                    rendered.subject,
                    rendered.body,
                    rendered.html,
                    {"X-Patron-Category": "care"},
                    f"B{i:06d}",
                    "bench-offer",
                    "en",
                )
            )
        )
    return messages


async def bare(
    messages: list[EmailMessage], port: int, connections: int, *, flattened: bool = False
) -> float:
    """Send with aiosmtplib over persistent connections (``flattened``: bytes, sendmail)."""
    items: list[tuple[str, Any]] = [
        (str(m["To"]), m.as_bytes() if flattened else m) for m in messages
    ]
    queue = iter(items)

    async def sender() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        for to, message in queue:
            if flattened:
                await client.sendmail("care@example.com", [to], message)
            else:
                await client.send_message(message, sender="care@example.com")
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(connections)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--store", default="sqlite", help="sqlite, or a PostgreSQL URL")
    args = parser.parse_args()
    count, connections = args.messages, args.connections

    from core.testing_smtp import free_port

    port = free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=sink_process, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    with tempfile.TemporaryDirectory(prefix="patron-bench-") as tmp:
        root = Path(tmp)
        settings = prepare(root, count, None if args.store == "sqlite" else args.store, port)
        settings.channels["email"]["pool_size"] = connections
        settings.delivery.workers = connections
        settings.delivery.batch_size = 500
        settings.delivery.mark_every = 250
        print(
            f"{count} messages, {connections} connections, store {settings.database_url.split(':')[0]}"
        )
        store = fill(settings, count)
        app = build_app(settings=settings)
        app._store = store
        rules = app.load_rules()
        summary = run_cycle(store, app.registry, settings, rules, AS_OF, force=True)
        print(f"  cycle: {summary.new} pending messages in {summary.seconds:.2f} s")

        messages = pre_rendered(app, settings, count)
        bare_seconds = asyncio.run(bare(messages, port, connections))
        bare_rate = count / bare_seconds
        print(
            f"  bare aiosmtplib:   {bare_rate:8.0f} messages/s  ({bare_seconds:.2f} s, send_message)"
        )
        flat_seconds = asyncio.run(bare(messages, port, connections, flattened=True))
        flat_rate = count / flat_seconds
        print(
            f"  bare, as bytes:    {flat_rate:8.0f} messages/s  ({flat_seconds:.2f} s, sendmail of pre-flattened bytes)"
        )

        started = time.perf_counter()
        delivered = asyncio.run(
            deliver_pending(
                store,
                app.registry,
                settings,
                app.catalog,
                now=AS_OF + 60,
                rule_descriptions={r.id: r.description for r in rules.rules},
            )
        )
        patron_seconds = time.perf_counter() - started
        with store.begin() as conn:
            sent = conn.execute(
                select(func.count())
                .select_from(table_of(LedgerEntry))
                .where(table_of(LedgerEntry).c.status == "sent")
            ).scalar_one()
        patron_rate = delivered.sent / patron_seconds
        print(
            f"  patron outbox:     {patron_rate:8.0f} messages/s  ({patron_seconds:.2f} s, {sent} recorded sent)"
        )
        print(f"  ratio patron/bare: {patron_rate / bare_rate:.2f}  (target >= 0.80)")
        print(f"  ratio patron/bare as bytes: {patron_rate / flat_rate:.2f}")
        store.dispose()
    sink.terminate()


if __name__ == "__main__":
    main()
