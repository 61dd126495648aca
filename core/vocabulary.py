"""The things plugins contribute: feature sets, action types, channel types, event types.

Each is a small typed description plus the behaviour the engine calls. Plugins
return instances from the hooks in :mod:`core.hookspecs`; the
:class:`core.registry.Registry` indexes them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel
from sqlalchemy import true

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import Connection, Select

    from core.config import Settings
    from core.store import Store


class FeatureType(StrEnum):
    """The value types of the expression language."""

    NUMBER = "number"  # integer or real
    STRING = "string"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Feature:
    """One per-customer value that rule conditions and templates can use.

    ``unit`` documents day counts, minor units of money and the like; it appears in
    ``patron check --features`` and in the rule-file schema.
    """

    name: str
    type: FeatureType
    description: str
    unit: str | None = None
    default: int | float | str | bool | None = None  # for customers the set has no row for


@dataclass(frozen=True)
class Keeping:
    """A feature set's promise that lets a cycle keep its rows between cycles.

    A set with an attribute ``keeping = Keeping(...)`` promises that a customer's row
    depends only on that customer's events of ``event_types`` and on the instant, and on
    the instant only through

    - ``windows_days``: counts and sums over ``(as_of - N days, as_of]``, and
    - ``aging``: features whose value is ``(as_of - an integer instant) / 86400``, real days
      (``days_between(as_of, max(occurred_at))`` and the like).

    A cycle then keeps the set's rows in the store (each aging feature as its instant) and
    recomputes only the customers with new events, with an event that became due, or with
    an event that crossed a window's edge since the kept rows' instant; every other row
    is read back with its aging features counted to the new instant. The values are
    exactly those of a full computation (``tests/features/test_kept_sets.py``). A set
    with ``needs`` or ``population`` is never kept.
    """

    event_types: tuple[str, ...]
    windows_days: tuple[float, ...] = ()
    aging: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureContext:
    """What a feature set needs to build its SQL: the instant and the store."""

    as_of: int  # seconds since the epoch, UTC
    settings: Settings
    store: Store
    features: Any = None  # the feature table of earlier stages, for sets with ``needs``
    # The customers being computed (a few, for ``feature_rows``); None: the whole base.
    # ``select`` is restricted to them by the caller; a ``prepare`` that aggregates per
    # customer into a TEMP table can restrict its own work with it.
    customer_ids: Collection[int] | None = None
    # A SELECT of the ids of the customers being computed when they are many (a kept
    # set's changed customers); the caller filters the set's rows to them as it does
    # for ``customer_ids``. See :meth:`limit_to`.
    only: Any = None
    # Nothing may be written to the store (a dry run, which must not wait for or hold
    # the write lock a running cycle needs): kept sets are computed afresh.
    read_only: bool = False
    # The features the caller will read (None: every one). A cycle computes only the
    # sets that hold one of them, and the feature table has only their columns
    # (:mod:`core.cycle_features`).
    wanted: frozenset[str] | None = None
    # Shared by one cycle's stages and feature sets (replace() keeps the same dict): a
    # stage that ran before the features may leave work a set's ``prepare`` can reuse.
    # Empty outside a cycle, so nothing in it may be needed for correct values.
    cycle_state: dict[str, Any] = field(default_factory=dict)
    # Columns of ``features`` that a ``row_wise`` set's SELECT passes through unchanged,
    # besides ``customer_id`` (see :class:`FeatureSet`); empty: none.
    carry: tuple[str, ...] = ()

    def limit_to(self, customer_id: Any) -> Any:
        """A condition on ``customer_id`` that keeps the customers being computed (true
        for the whole base). The caller filters a set's rows after its SELECT; a set
        that aggregates in a nested subquery, where that filter cannot reach the scan,
        applies this inside so that the events index serves each customer."""
        if self.customer_ids is not None:
            return customer_id.in_(list(self.customer_ids))
        if self.only is not None:
            return customer_id.in_(self.only)
        return true()


class FeatureSet(Protocol):
    """A group of features computed together, set-based, as of ``ctx.as_of``.

    ``select(ctx)`` returns a SELECT with a ``customer_id`` column and one column
    labelled with each feature's name; customers absent from it get NULL. A set that
    needs a bulk computation first (a model, a calendar) does it in ``prepare``,
    typically into a TEMP table that ``select`` then reads.

    A set may read features of other sets: it lists them in an optional attribute
    ``needs`` (a sequence of feature names). Such a set is computed in a later stage,
    and ``ctx.features`` is then a table (select from it like any) with a row per
    customer and a column for each feature in ``needs``; it may hold other features
    too, but only those listed are promised. Cycles between sets are a start-up error.

    A set whose ``prepare`` leaves nothing behind that other code reads (it does
    nothing, or fills TEMP tables only its own SELECT reads: both run on the same
    connection), writes nothing to the store, and whose SELECT reads stored tables
    otherwise may say so with an optional attribute ``parallel_safe = True``: on a
    SQLite file store a cycle may then compute it on a second connection, in parallel
    with the other sets.

    A set with ``needs`` whose features are expressions over one row of ``ctx.features``
    (no aggregation, no join but to one-row tables its ``prepare`` fills) may say so with
    ``row_wise = True``. Its SELECT then makes exactly one row per row of
    ``ctx.features`` and also selects, unchanged, the columns named in ``ctx.carry``. A
    cycle then computes it while it writes the feature table, in the same pass, instead
    of into a table of its own that the feature table's join reads again (unless another
    set needs its features).
    """

    name: str
    features: Sequence[Feature]

    def prepare(self, conn: Connection, ctx: FeatureContext) -> None: ...

    def select(self, ctx: FeatureContext) -> Select[Any]: ...


class ActionKind(StrEnum):
    MESSAGE = "message"  # leaves the system through a channel, after the ledger row exists
    EFFECT = "effect"  # changes the store in the same transaction as the firing


class ActionParams(BaseModel):
    """Base of every action's YAML arguments; unknown keys are errors."""

    model_config = {"extra": "forbid"}


class CheckEnv(Protocol):
    """What an action's semantic check may consult (see core.rules.validate)."""

    @property
    def channel_names(self) -> Sequence[str]: ...

    def template_problems(self, template: str, channel: str) -> list[str]:
        """Messages for a template that is missing or broken (empty when fine)."""
        ...


ActionCheck = Callable[[Any, CheckEnv], list[tuple[str, str]]]


@dataclass(frozen=True)
class EffectContext:
    """What an EFFECT action's ``apply`` gets, inside the cycle's transaction.

    ``firings`` is a SELECT of ``(ledger_id, customer_id)`` for exactly the ledger rows
    this action wrote in this cycle (new firings only), so an effect keyed by
    ``ledger_id`` (UNIQUE) happens exactly once per firing, even if the cycle repeats.
    """

    conn: Connection
    rule_id: str
    action_index: int
    params: Any
    firings: Select[Any]
    features: Any  # the cycle's TEMP feature table (sqlalchemy Table)
    as_of: int
    cycle_id: int | None
    settings: Settings


ActionApply = Callable[[EffectContext], int]


@dataclass(frozen=True)
class ActionType:
    """A verb a rule can use under ``then:``, with a pydantic model for its arguments.

    ``example`` is YAML shown in docs and the generated schema. ``check`` runs at
    ``patron check`` after the arguments validated, and returns ``(key, message)``
    pairs for semantic problems (an unknown channel, a missing template).
    """

    name: str
    params: type[ActionParams]
    description: str
    kind: ActionKind = ActionKind.MESSAGE
    example: str = ""
    check: ActionCheck | None = None
    apply: ActionApply | None = None  # EFFECT actions: set-based change, returns rows affected
    # The features ``apply`` reads from the cycle's feature table, given the action's
    # arguments. None: it may read any, so a cycle that runs it computes every feature.
    reads: Callable[[Any], Iterable[str]] | None = None


SectionCheck = Callable[[Any, "SectionCheckEnv"], list[tuple[tuple[str | int, ...], str]]]


class SectionCheckEnv(Protocol):
    """What a rule-file section's semantic check may consult."""

    @property
    def feature_types(self) -> dict[str, FeatureType]: ...

    @property
    def channel_names(self) -> Sequence[str]: ...

    def template_problems(self, template: str, channel: str) -> list[str]: ...


@dataclass(frozen=True)
class RuleSection:
    """A top-level key of rule files owned by a plugin (``tiers:``, ``sla_profiles:`` ...).

    The section's value is validated by ``model`` (a pydantic model, ``extra="forbid"``
    recommended) with the same located, operator-worded errors as rules; ``check`` then
    returns ``(location inside the section, message)`` pairs for semantic problems,
    e.g. ``(("tiers", 2, "when"), "unknown feature 'spend'")``. A section may be defined
    in one file only. The validated values are in ``RuleSet.sections[name]``.

    ``check_rules`` is the cross-file check, run once after every file loaded: it gets
    the section's validated value (None when no file defines it) and the RuleSet of
    valid rules, and returns :class:`core.errors.Problem` s (e.g. a tier a rule names that
    the tier list does not define). It is skipped when the section itself has errors.
    """

    name: str
    model: type[BaseModel]
    description: str
    check: SectionCheck | None = None
    example: str = ""
    check_rules: Callable[[Any, Any], list[Any]] | None = None


@dataclass(frozen=True)
class StageContext:
    """What a cycle stage gets: the cycle's connection (its transaction), the instant,
    the feature table just materialized (None for a stage that runs before features),
    the loaded rule set and whether this is a dry run (a dry run's transaction is rolled
    back afterwards, so a stage may write freely)."""

    conn: Connection
    ctx: FeatureContext
    features: Any  # sqlalchemy Table, or None before features
    rules: Any  # core.rules.RuleSet
    cycle_id: int | None
    dry_run: bool


@dataclass(frozen=True)
class CycleStage:
    """Work a plugin does in every cycle after features and before rules, set-based.

    Examples: tiering stores tier changes (with hysteresis) and refreshes the ``tier``
    column of the feature table; journeys enroll customers and write the ledger rows of
    due steps. ``run`` returns a short summary (counts) printed with the cycle.

    ``after`` names the stages that must run first when they are installed (a name
    that is not installed is ignored, so plugins stay optional); ``"*"`` means after
    every stage that does not itself say ``"*"``. Stages are otherwise run in
    registration order.

    A stage with ``before_features = True`` runs before the feature table is computed
    and gets none: work the features then read (churn fits the model its scores use),
    so no column of the wide feature table has to be rewritten afterwards.
    """

    name: str
    run: Callable[[StageContext], dict[str, int]]
    description: str = ""
    after: Sequence[str] = ()
    before_features: bool = False
    # The features the stage reads or writes in the feature table, given the loaded rule
    # set (its sections). None: it may use any, so a cycle that runs it computes every
    # feature; naming them lets a cycle skip the sets no rule, stage or effect reads.
    reads: Callable[[Any], Iterable[str]] | None = None


@dataclass(frozen=True)
class EventType:
    """A kind of event the store accepts on import."""

    name: str
    description: str
    uses: Sequence[str] = field(default=())  # which of amount / value / ref it carries
    # Written by a cycle stage from other facts (a tier change), not a fact from outside:
    # a replay of history derives these again instead of copying them.
    derived: bool = False


@dataclass
class OutgoingMessage:
    """A rendered message, ready for a channel."""

    ledger_id: int
    idempotency_key: str
    message_id: str
    channel: str
    to: str
    subject: str
    body: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    customer_external_id: str = ""
    rule_id: str = ""
    locale: str = ""


class Channel(Protocol):
    """A configured delivery channel."""

    name: str

    def address_of(self, customer: dict[str, Any]) -> str | None:
        """The customer's address on this channel, or None when there is none."""
        ...

    async def send(self, message: OutgoingMessage) -> None:
        """Deliver one message; raise Transient/PermanentDeliveryError on failure."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ChannelType:
    """A delivery channel implementation and the settings model it is configured with."""

    name: str
    description: str
    settings: type[BaseModel]
    factory: ChannelFactory
    consent_key: str | None = None  # customer.consent key gating this channel

    registry_kind: ClassVar[str] = "channel"


class ChannelFactory(Protocol):
    def __call__(self, settings: BaseModel, patron_settings: Settings) -> Channel: ...


@dataclass(frozen=True)
class TemplateDir:
    """A folder of templates a plugin ships, searched after the operator's folders."""

    path: Path
