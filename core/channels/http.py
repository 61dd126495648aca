"""What the HTTP channels (``webhook``, ``sms``) share: the target, the body template, errors.

The body is a YAML structure whose strings are Jinja2 templates, rendered per message
and sent as JSON (or as a form). Because values are rendered one by one, quotes and
newlines in a message can never break the JSON. Variables:

``subject`` ``body`` ``html`` ``to`` ``customer`` (external id) ``rule`` ``category``
``locale`` ``message_id`` ``idempotency_key`` ``ledger_id``

Responses: 2xx is sent; 408, 429 and 5xx are retried later (TransientDeliveryError);
any other 4xx fails the row (PermanentDeliveryError) with the status and the start of
the response; a refused connection makes the whole channel wait (ChannelUnavailable),
a timeout is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.channels.secrets import secret
from core.errors import (
    ChannelUnavailable,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from core.vocabulary import OutgoingMessage

_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
RETRY_STATUSES = frozenset({408, 425, 429})


class HttpTargetSettings(BaseModel):
    """Where and how an HTTP channel posts (shared by ``webhook`` and ``sms``)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="The endpoint (http:// or https://).")
    url_env: str | None = Field(
        default=None, description="Environment variable holding the URL (when it has a key)."
    )
    method: str = Field(default="POST", pattern="^(POST|PUT)$")
    headers: dict[str, str] = Field(default_factory=dict)
    auth_env: str | None = Field(
        default=None, description="Environment variable holding the token or API key."
    )
    auth_header: str = Field(default="Authorization")
    auth_scheme: str | None = Field(
        default="Bearer", description="Prefix of the token; null for none."
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds per request.")
    pool_size: int = Field(default=8, ge=1, le=128)
    body: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target(self) -> HttpTargetSettings:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of url and url_env")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: '{self.url}' must start with http:// or https://")
        for path, text in _strings(self.body, ("body",)):
            try:
                _ENV.from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"{'.'.join(path)}: {exc.message} (line {exc.lineno})") from None
        return self


def _strings(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [item for k, v in value.items() for item in _strings(v, (*path, str(k)))]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings(v, (*path, str(i)))]
    return []


def variables(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "subject": message.subject,
        "body": message.body,
        "html": message.html or "",
        "to": message.to,
        "customer": message.customer_external_id,
        "rule": message.rule_id,
        "category": message.headers.get("X-Patron-Category", ""),
        "locale": message.locale,
        "message_id": message.message_id,
        "idempotency_key": message.idempotency_key,
        "ledger_id": message.ledger_id,
    }


def render_body(template: Any, values: Mapping[str, Any]) -> Any:
    """The body structure with every string rendered (numbers, booleans kept)."""
    if isinstance(template, str):
        try:
            return _ENV.from_string(template).render(values)
        except jinja2.TemplateError as exc:
            raise PermanentDeliveryError(f"the body template failed: {exc}") from exc
    if isinstance(template, Mapping):
        return {k: render_body(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render_body(v, values) for v in template]
    return template


class HttpPoster:
    """An httpx client (opened on first use) and the classification of its outcomes."""

    def __init__(self, settings: HttpTargetSettings, what: str) -> None:
        self.settings = settings
        self.what = what  # "channels.webhook", for messages
        self._client: httpx.AsyncClient | None = None

    def _url_and_headers(self, message: OutgoingMessage) -> tuple[str, dict[str, str]]:
        try:
            url = self.settings.url or secret(self.settings.url_env, f"{self.what}.url_env")
            token = secret(self.settings.auth_env, f"{self.what}.auth_env")
        except ConfigError as exc:
            raise ChannelUnavailable(str(exc)) from None
        headers = {
            "Idempotency-Key": message.idempotency_key,
            "X-Patron-Message-ID": message.message_id,
            **self.settings.headers,
        }
        if token is not None:
            scheme = self.settings.auth_scheme
            headers[self.settings.auth_header] = f"{scheme} {token}" if scheme else token
        assert url is not None
        return url, headers

    async def post(self, message: OutgoingMessage, *, json: Any = None, data: Any = None) -> None:
        url, headers = self._url_and_headers(message)
        if self._client is None:
            limits = httpx.Limits(max_connections=self.settings.pool_size)
            self._client = httpx.AsyncClient(timeout=self.settings.timeout, limits=limits)
        where = httpx.URL(url).copy_with(query=None)  # never log a key in the query
        try:
            response = await self._client.request(
                self.settings.method, url, json=json, data=data, headers=headers
            )
        except httpx.ConnectError as exc:
            raise ChannelUnavailable(f"cannot connect to {where}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(f"{where} timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"{where}: {exc or type(exc).__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"HTTP {status} {response.reason_phrase} from {where}"
        text = response.text.strip()[:200]
        if text:
            detail += f": {text}"
        if status >= 500 or status in RETRY_STATUSES:
            raise TransientDeliveryError(detail)
        raise PermanentDeliveryError(detail)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


__all__ = ["HttpPoster", "HttpTargetSettings", "render_body", "variables"]
