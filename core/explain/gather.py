"""Collect what `patron explain` shows, reading the store only (nothing is written).

The feature values come from the same SQL the cycle runs (``feature_rows``), the
condition trace from the Python evaluator that the hypothesis property keeps in
agreement with that SQL, and what happened afterwards from the ledger, which records
every firing before any effect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from core.config import Settings
from core.errors import UserError
from core.explain.model import Explanation, JourneyState, LedgerRow, RuleVerdict
from core.expr.trace import trace
from core.features import feature_rows
from core.journeys.tables import enrollments
from core.registry import Registry
from core.rules import RuleDef, RuleSet
from core.store import Customer, Store
from core.store.ledger_args import ledger_rows
from core.store.tables import LedgerEntry, RuleRun, table_of
from core.suggest import did_you_mean
from core.timeparse import show_instant
from core.vocabulary import FeatureContext

customers = table_of(Customer)
ledger = table_of(LedgerEntry)
rule_runs = table_of(RuleRun)

CUSTOMER_FIELDS = (
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "timezone",
    "birthday",
    "joined_at",
    "account_manager",
    "consent",
)


def explain(
    store: Store,
    registry: Registry,
    settings: Settings,
    rules: RuleSet,
    external_id: str,
    as_of: int,
    *,
    rule_id: str | None = None,
) -> Explanation:
    """Why the customer ``external_id`` did or did not get each rule's messages."""
    selected = _select_rules(rules, rule_id)
    with store.engine.connect() as conn, conn.begin() as transaction:
        person = find_customer(conn, external_id)
        ctx = FeatureContext(as_of=as_of, settings=settings, store=store)
        features = feature_rows(conn, registry, ctx, [person["id"]])[person["id"]]
        rows = _ledger_rows(conn, person["id"], as_of)
        last_runs = dict(conn.execute(select(rule_runs.c.rule_id, rule_runs.c.last_as_of)).all())
        journeys = _journeys(conn, person["id"], as_of)
        transaction.rollback()  # feature_rows fills TEMP tables; leave nothing behind
    by_rule: dict[str, list[LedgerRow]] = {}
    for row in rows:
        by_rule.setdefault(row.rule_id, []).append(row)
    verdicts = [
        _verdict(rule, features, by_rule.get(rule.id, []), last_runs.get(rule.id), as_of, settings)
        for rule in selected
    ]
    rule_ids = {rule.id for rule in rules.rules}
    other = [] if rule_id is not None else [r for r in rows if r.rule_id not in rule_ids]
    return Explanation(
        as_of=as_of,
        timezone=settings.timezone,
        customer={k: person[k] for k in CUSTOMER_FIELDS},
        features=features,
        rules=verdicts,
        journeys=journeys,
        other_messages=other,
    )


def _select_rules(rules: RuleSet, rule_id: str | None) -> list[RuleDef]:
    if rule_id is None:
        return sorted(rules.rules, key=lambda r: (r.priority, r.id))
    rule = rules.get(rule_id)
    if rule is None:
        hint = did_you_mean(rule_id, [r.id for r in rules.rules])
        raise UserError(f"no rule '{rule_id}' in the loaded rule files{hint}")
    return [rule]


def find_customer(conn: Connection, external_id: str) -> dict[str, Any]:
    """The customer row of ``external_id``; a UserError suggesting a near id otherwise."""
    row = conn.execute(select(customers).where(customers.c.external_id == external_id)).mappings()
    found = row.first()
    if found is not None:
        return dict(found)
    # Suggest among ids that share a prefix: never read a million ids for a typo.
    prefix = external_id[: max(1, len(external_id) // 2)]
    near = conn.scalars(
        select(customers.c.external_id).where(customers.c.external_id.like(f"{prefix}%")).limit(500)
    ).all()
    count = conn.execute(select(func.count()).select_from(customers)).scalar_one()
    raise UserError(
        f"no customer with external id '{external_id}'{did_you_mean(external_id, near)} "
        f"({count:,} customers in the store; import them with `patron import customers FILE`)"
    )


def _ledger_rows(conn: Connection, customer_id: int, as_of: int) -> list[LedgerRow]:
    query = (
        select(ledger)
        .where(ledger.c.customer_id == customer_id, ledger.c.created_at <= as_of)
        .order_by(ledger.c.created_at.desc(), ledger.c.id)
    )
    rows = ledger_rows(conn, query)
    return [
        LedgerRow(
            id=row["id"],
            rule_id=row["rule_id"],
            action=row["action"],
            channel=(row["args"] or {}).get("channel"),
            to=(row["args"] or {}).get("to"),
            status=row["status"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            attempts=row["attempts"],
            reason=row["suppressed_reason"],
            error=row["last_error"],
            period=row["period"],
        )
        for row in rows
    ]


def _journeys(conn: Connection, customer_id: int, as_of: int) -> list[JourneyState]:
    query = (
        select(enrollments)
        .where(enrollments.c.customer_id == customer_id, enrollments.c.enrolled_at <= as_of)
        .order_by(enrollments.c.enrolled_at, enrollments.c.id)
    )
    return [
        JourneyState(
            journey_id=row["journey_id"],
            enrollment_id=row["id"],
            arm=row["arm"],
            status=row["status"],
            step=row["step"],
            enrolled_at=row["enrolled_at"],
            step_due_at=row["step_due_at"],
            ended_at=row["ended_at"],
        )
        for row in conn.execute(query).mappings()
    ]


def _verdict(
    rule: RuleDef,
    features: dict[str, Any],
    rows: list[LedgerRow],
    last_run: int | None,
    as_of: int,
    settings: Settings,
) -> RuleVerdict:
    verdict = RuleVerdict(
        rule_id=rule.id,
        where=f"{rule.file}:{rule.line}",
        description=rule.description,
        enabled=rule.enabled,
        due=rule.schedule.is_due(last_run, as_of),
        schedule=str(rule.schedule),
        once_per=str(rule.once_per),
        condition=trace(rule.condition, features),
        outcome="",
        detail="",
    )
    zone = settings.zone
    firings = [row for row in rows if _in_window(rule, row, as_of, settings)]
    now = [row for row in firings if row.created_at == as_of]
    if not rule.enabled:
        verdict.outcome, verdict.detail = "disabled", "enabled: false in the rule file"
    elif now:
        verdict.outcome = "fired"
        verdict.detail = f"fired at {show_instant(as_of, zone)} (period {now[0].period})"
        verdict.firings = now
    elif not verdict.matched:
        verdict.outcome = "not_matched"
        verdict.detail = "the condition is " + (
            "null" if verdict.condition.value is None else "false"
        )
    elif firings:
        first = firings[0]
        window = (
            f"once_per {rule.once_per}: period {first.period}"
            if rule.once_per.lookback_seconds is None
            else f"once_per {rule.once_per}: a firing within the window"
        )
        verdict.outcome = "already_fired"
        verdict.detail = f"already fired at {show_instant(first.created_at, zone)} ({window})"
        verdict.firings = [row for row in firings if row.created_at == first.created_at]
    elif verdict.due:
        verdict.outcome = "would_fire"
        last = (
            "never evaluated"
            if last_run is None
            else f"last evaluated {show_instant(last_run, zone)}"
        )
        verdict.detail = f"matches and is due; no firing recorded yet ({last})"
    else:
        verdict.outcome = "not_due"
        upcoming = rule.schedule.next_after(as_of)
        when = show_instant(upcoming, zone) if upcoming is not None else "never"
        verdict.detail = f"matches, but schedule '{rule.schedule}' is next due {when}"
    return verdict


def _in_window(rule: RuleDef, row: LedgerRow, as_of: int, settings: Settings) -> bool:
    """Whether ``row`` is a firing that keeps ``rule`` from firing again at ``as_of``."""
    if row.rule_id != rule.id:
        return False
    lookback = rule.once_per.lookback_seconds
    if lookback is not None:
        return as_of - lookback < row.created_at <= as_of
    return row.period == rule.once_per.period_key(as_of, settings.zone)
