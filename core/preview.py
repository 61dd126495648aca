"""Dry-run previews: the messages a rule would send, rendered, nothing written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from core.config import Settings
from core.delivery import build_channels, render_preview
from core.errors import TemplateError
from core.features import feature_rows
from core.registry import Registry
from core.rules import RuleDef
from core.store import Customer, Store
from core.store.tables import table_of
from core.templates import TemplateCatalog
from core.vocabulary import ActionKind, FeatureContext

customers = table_of(Customer)


def preview_firings(
    store: Store,
    registry: Registry,
    settings: Settings,
    catalog: TemplateCatalog,
    rule: RuleDef,
    customer_ids: Sequence[int],
    as_of: int,
    *,
    full: int = 1,
) -> list[str]:
    """One line per (customer, message action), plus the whole text of the first ``full`` messages."""
    ctx = FeatureContext(as_of=as_of, settings=settings, store=store)
    with store.begin() as conn:
        people = {
            row["id"]: dict(row)
            for row in conn.execute(
                select(customers).where(customers.c.id.in_(list(customer_ids)))
            ).mappings()
        }
        features = feature_rows(conn, registry, ctx, customer_ids)
    channels = build_channels(registry, settings)
    rule_info = {"id": rule.id, "description": rule.description, "category": rule.category}
    lines: list[str] = []
    shown = 0
    for cid in customer_ids:
        person = people[cid]
        for action in rule.actions:
            if action.type.kind is not ActionKind.MESSAGE:
                lines.append(f"{person['external_id']}: {action.type.name}")
                continue
            params: dict[str, Any] = action.params.model_dump()
            channel = channels.get(params.get("channel", ""))
            address = channel.address_of(person) if channel else None
            where = f"{params.get('channel')} {address or '(no address: would be suppressed)'}"
            try:
                message = render_preview(
                    catalog, settings, rule_info, params, person, features[cid], as_of
                )
            except TemplateError as exc:
                lines.append(f"{person['external_id']} → {where}: template error: {exc}")
                continue
            lines.append(f"{person['external_id']} → {where} [{message.locale}] {message.subject}")
            if shown < full:
                shown += 1
                lines.extend("    │ " + text for text in message.body.splitlines())
    return lines
