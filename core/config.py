"""patron.yaml: the operator's configuration, validated by pydantic.

Secrets and the store URL can be overridden from the environment
(``PATRON_DATABASE_URL``), so they never have to live in a YAML file.
Relative paths are resolved against the directory of the configuration file
(or the working directory when there is none).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import ConfigError

CONFIG_FILE = "patron.yaml"
DATABASE_URL_ENV = "PATRON_DATABASE_URL"


_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)", re.IGNORECASE)
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> int:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (or a number of seconds) to seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"'{value}' is not a duration such as 90s, 30m, 12h, 7d or 2w")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2).lower()]


def show_duration(seconds: int) -> str:
    """``172800`` → ``2d``; ``5400`` → ``90m``; ``45`` → ``45s``."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[int, BeforeValidator(parse_duration, json_schema_input_type=str | int)]
"""Seconds, written in YAML as ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``."""

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)")
CAPPED_CATEGORIES = ("care", "marketing", "loyalty", "any")
RESERVED_RECIPIENTS = ("account_manager", "customer")
STAFF_ROLE_PATTERN = r"[a-z][a-z0-9_-]*"
EXEMPT_CATEGORIES = ("service", "transactional")


class StaffMember(BaseModel):
    """A staff role that ``send: {to: ROLE}`` can address (``staff:`` in patron.yaml).

    ::

        staff:
          supervisor: {name: 王经理, email: service-lead@example.com, phone: "+8613800000001"}
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Shown in tasks and messages.")
    email: str | None = Field(default=None, description="Where e-mail and task notices go.")
    phone: str | None = Field(default=None, description="Where SMS go (E.164, +86...).")
    locale: str | None = Field(
        default=None, description="Language of messages to this person (default_locale)."
    )


class QuietHours(BaseModel):
    """A daily window (in the customer's own time zone) in which a channel sends nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int  # minutes after local midnight
    end: int

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _CLOCK.fullmatch(value.strip())
            if match is None:
                raise ValueError(f"'{value}' is not a window such as '21:00-08:00'")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if (h1, m1) == (h2, m2):
                raise ValueError(f"'{value}' is an empty window")
            return {"start": h1 * 60 + m1, "end": h2 * 60 + m2}
        return value

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


class FrequencyCap(BaseModel):
    """At most ``max`` messages of ``category`` to one customer within ``per``.

    ``category: any`` counts every capped category together; service and transactional
    messages are never capped. When rows compete, the lower ``priority`` number wins.
    """

    model_config = ConfigDict(extra="forbid")

    category: Literal["care", "marketing", "loyalty", "any"]
    max: int = Field(ge=0)
    per: Duration


class BlastRadius(BaseModel):
    """Hold a rule whose one cycle would message too many customers, until ``patron release``."""

    model_config = ConfigDict(extra="forbid")

    max_customers: int | None = Field(default=10000, ge=1)
    max_share: float | None = Field(default=None, gt=0, le=1, description="Of all customers.")
    exempt_rules: list[str] = Field(default_factory=list)


class ConsentSettings(BaseModel):
    """Which categories need an explicit opt-in (``consent: {marketing: true}``)."""

    model_config = ConfigDict(extra="forbid")

    opt_in: list[Literal["care", "marketing", "loyalty"]] = Field(default_factory=list)


# "21:00-08:00" or {start: ..., end: ...}: the model reads both; the schema says so.
QuietHoursInput = Annotated[
    QuietHours, BeforeValidator(lambda value: value, json_schema_input_type=str | QuietHours)
]


class DeliverySettings(BaseModel):
    """``delivery:`` in patron.yaml: the outbox worker and the send-time guards."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=200, ge=1, description="Rows claimed per batch.")
    workers: int = Field(default=8, ge=1, description="Messages in flight at once.")
    max_attempts: int = Field(default=25, ge=1)
    deadline: Duration = Field(
        default=48 * 3600,
        description="After this long since the firing a message is not sent any more: "
        "retries fail, quiet-hour deferrals expire.",
    )
    lease: Duration = Field(
        default=300, ge=1, description="A claimed row is invisible to other workers this long."
    )
    mark_every: int = Field(
        default=64,
        ge=1,
        description="Outcomes recorded per transaction (at most this many "
        "messages are in flight unrecorded).",
    )
    poll_interval: Duration = Field(default=2, ge=1, description="Daemon: idle wait.")
    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    caps: list[FrequencyCap] = Field(default_factory=list)
    quiet_hours: dict[str, QuietHoursInput] = Field(
        default_factory=dict, description="Per channel: 'sms: 21:00-08:00' (customer's zone)."
    )
    blast_radius: BlastRadius | None = Field(default_factory=BlastRadius)


class MetricsSettings(BaseModel):
    """The daemon's health and metrics endpoint: loopback only."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class DaemonSettings(BaseModel):
    """``daemon:`` in patron.yaml: schedules, catch-up, reload, logs and metrics."""

    model_config = ConfigDict(extra="forbid")

    catch_up: Literal["once", "skip", "all"] = Field(
        default="once",
        description="Missed schedule ticks after downtime: evaluate once, skip them, "
        "or evaluate every missed tick (at most 100 per rule).",
    )
    reload: bool = True
    watch_interval: Duration = Field(default=2, ge=1)
    shutdown_grace: Duration = Field(default=30, ge=0)
    log_format: Literal["json", "text"] = "json"
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)


class Settings(BaseModel):
    """Validated contents of patron.yaml."""

    model_config = ConfigDict(extra="forbid")

    database_url: str = Field(
        default="sqlite:///patron.db",
        description="SQLAlchemy URL of the store; a SQLite file by default, "
        "postgresql+psycopg://... in production. PATRON_DATABASE_URL overrides it.",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Time zone of rule schedules and the default for customers without one.",
    )
    default_locale: str = Field(
        default="zh-CN", description="Locale used when a customer has none."
    )
    currency: str = Field(default="CNY", description="ISO 4217 code; amounts are minor units.")
    cycle_work_mem: str | None = Field(
        default="256MB",
        pattern=r"^[1-9][0-9]*(kB|MB|GB)$",
        description="PostgreSQL: work_mem of a cycle's transaction (SET LOCAL), the memory "
        "each sort or hash of the base may take before it spills to disk; null keeps the "
        "server's (4MB by default).",
    )
    rule_paths: list[Path] = Field(default_factory=lambda: [Path("rules")])
    template_paths: list[Path] = Field(default_factory=lambda: [Path("templates")])
    outbox_dir: Path = Field(default=Path("outbox"), description="Where the file channel writes.")
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-channel settings, validated by each channel's own model.",
    )
    staff: dict[str, StaffMember] = Field(
        default_factory=dict,
        description="Staff roles that 'send: {to: ROLE}' can address (supervisor ...).",
    )
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone '{value}' (use an IANA name such as Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("staff")
    @classmethod
    def _staff_roles(cls, value: dict[str, StaffMember]) -> dict[str, StaffMember]:
        for role in value:
            if role in RESERVED_RECIPIENTS:
                raise ValueError(
                    f"'{role}' cannot be a staff role: 'send: {{to: {role}}}' already means "
                    "the customer's own"
                )
            if not re.fullmatch(STAFF_ROLE_PATTERN, role):
                raise ValueError(
                    f"'{role}' is not a valid staff role: use lowercase letters, digits, '-' and '_'"
                )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def rule_dirs(self) -> list[Path]:
        return [self.resolve(p) for p in self.rule_paths]

    @property
    def template_dirs(self) -> list[Path]:
        return [self.resolve(p) for p in self.template_paths]

    @property
    def outbox(self) -> Path:
        return self.resolve(self.outbox_dir)

    @property
    def resolved_database_url(self) -> str:
        """The store URL with a relative SQLite path made absolute against base_dir."""
        url = self.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str((self.base_dir / url[len(prefix) :]).resolve())
        return url


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read patron.yaml (``path``, or ./patron.yaml if it exists) and apply env overrides."""
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is None and Path(CONFIG_FILE).exists():
        path = Path(CONFIG_FILE)
    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: configuration file not found")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        data.update(loaded)
        base_dir = path.resolve().parent
    if env_url := os.environ.get(DATABASE_URL_ENV):
        data["database_url"] = env_url
    data.update({k: v for k, v in overrides.items() if v is not None})
    data["base_dir"] = base_dir
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        where = str(path) if path else "settings"
        lines = [
            f"{where}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("\n".join(lines)) from None
