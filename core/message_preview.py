"""`patron render`: a template as one customer would receive it on one channel.

The message is rendered by the delivery path's own code (the same context: customer,
features as of the instant, rule), then shown the way the channel puts it on the
wire: e-mail headers with the plain and HTML parts, a webhook's or SMS gateway's
JSON body, or subject and text for channels without a wire format of their own.
Nothing is written and nothing is sent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from core.app import App
from core.channels.http import render_body, variables
from core.delivery import build_channels, render_preview
from core.delivery.ids import message_id
from core.errors import UserError
from core.explain.gather import find_customer
from core.features import feature_rows
from core.suggest import did_you_mean
from core.templates import RenderedMessage
from core.vocabulary import Channel, FeatureContext, OutgoingMessage


def preview(
    app: App,
    template: str,
    external_id: str,
    as_of: int,
    *,
    channel_name: str | None = None,
    locale: str | None = None,
    rule_id: str | None = None,
) -> str:
    """The text of the preview; raises UserError for an unknown template, customer,
    channel or rule, and TemplateError when the template does not render."""
    catalog = app.catalog
    if not catalog.exists(template):
        hint = did_you_mean(template, catalog.names())
        raise UserError(f"no template '{template}'{hint} (patron check lists the templates in use)")
    rule = _rule_info(app, rule_id)
    ctx = FeatureContext(as_of=as_of, settings=app.settings, store=app.store)
    with app.store.engine.connect() as conn, conn.begin() as transaction:
        person = find_customer(conn, external_id)
        features = feature_rows(conn, app.registry, ctx, [person["id"]])[person["id"]]
        transaction.rollback()
    if locale is not None:
        person = {**person, "locale": locale}
    rendered = render_preview(
        catalog, app.settings, rule, {"template": template}, person, features, as_of
    )
    channels = build_channels(app.registry, app.settings)
    try:
        channel = _channel(channels, channel_name)
        address = channel.address_of(person) if channel is not None else None
        message = _outgoing(rendered, channel_name or "", address, person, rule, template)
        head = [
            f"template {template} [{rendered.locale}] for {external_id}"
            + (
                f" via {channel_name} to {address or '(no address: delivery would suppress it)'}"
                if channel_name
                else ""
            )
        ]
        return "\n".join([*head, "", _wire(channel, message, rendered)])
    finally:
        asyncio.run(_close(channels))


def _rule_info(app: App, rule_id: str | None) -> dict[str, Any]:
    if rule_id is None:
        return {"id": "preview", "description": "", "category": "care"}
    rule = app.load_rules().get(rule_id)
    if rule is None:
        hint = did_you_mean(rule_id, [r.id for r in app.load_rules().rules])
        raise UserError(f"no rule '{rule_id}'{hint}")
    return {"id": rule.id, "description": rule.description, "category": rule.category}


def _channel(channels: dict[str, Channel], name: str | None) -> Channel | None:
    if name is None:
        return None
    if name not in channels:
        hint = did_you_mean(name, channels)
        raise UserError(
            f"no channel '{name}'{hint}; configured: {', '.join(sorted(channels)) or 'none'}"
        )
    return channels[name]


def _outgoing(
    rendered: RenderedMessage,
    channel: str,
    address: str | None,
    person: dict[str, Any],
    rule: dict[str, Any],
    template: str,
) -> OutgoingMessage:
    key = f"preview/{rule['id']}/{person['external_id']}/{template}"
    return OutgoingMessage(
        ledger_id=0,
        idempotency_key=key,
        message_id=message_id(key),
        channel=channel,
        to=address or "",
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        customer_external_id=str(person["external_id"]),
        rule_id=str(rule["id"]),
        locale=rendered.locale,
    )


def _wire(channel: Channel | None, message: OutgoingMessage, rendered: RenderedMessage) -> str:
    build = getattr(channel, "build", None)
    if callable(build) and message.to:  # e-mail: headers and parts as they go out
        mail = build(message)
        lines = [f"{k}: {v}" for k, v in mail.items()]
        for part in mail.walk():
            if part.get_content_maintype() == "text":
                lines += ["", f"--- {part.get_content_type()} ---", part.get_content().rstrip()]
        return "\n".join(lines)
    body = getattr(channel, "body", None)
    if isinstance(body, dict):  # webhook, SMS gateway: the JSON body they post
        posted = render_body(body, variables(message))
        limit = getattr(getattr(channel, "settings", None), "max_length", None)
        note = (
            f"\n({len(message.body)} characters; the limit is {limit})"
            if isinstance(limit, int)
            else ""
        )
        return json.dumps(posted, ensure_ascii=False, indent=2) + note
    lines = [f"Subject: {rendered.subject}", "", rendered.body.rstrip()]
    if rendered.html:
        lines += ["", "--- text/html ---", rendered.html.rstrip()]
    return "\n".join(lines)


async def _close(channels: dict[str, Channel]) -> None:
    for channel in channels.values():
        await channel.close()
