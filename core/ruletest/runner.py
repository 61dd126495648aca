"""Run one rule test file: a scratch store, its customers and events, then a cycle and a
delivery run at each step's instant, through the same code as ``patron run --once``.

Only the channels are stand-ins (they record instead of sending); consent, caps,
quiet hours, journeys, once_per windows and templates are the real ones.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from core.app import App, build_app
from core.config import Settings
from core.delivery.recording import cycle_then_deliver, recording_channels
from core.errors import Problem, UserError
from core.importing import import_customers, import_events
from core.rules.model import schema_errors
from core.rules.validate import dotted
from core.rules.yaml_source import SourceMap, load_yaml
from core.ruletest.model import RuleTestFile, Step
from core.store import Customer
from core.store.tables import LedgerEntry, table_of
from core.suggest import did_you_mean
from core.timeparse import parse_instant
from core.vocabulary import OutgoingMessage

customers = table_of(Customer)
ledger = table_of(LedgerEntry)


@dataclass
class Failure:
    """One assertion that did not hold, where it is written, and the difference."""

    line: int
    step: str
    message: str
    rule: str | None = None  # the rule the check is about


@dataclass
class FileResult:
    path: Path
    steps: int = 0
    checks: int = 0
    failures: list[Failure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # the file could not run
    # rule ids named by checks that are not rules of the files: a stage may write them
    # (sla-escalation), which only the ledger shows; checked once all steps ran
    unsure: list[tuple[str, Failure]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems


@dataclass
class StepOutcome:
    """What happened at one step: who each rule fired for, messages, suppressions."""

    fired: dict[str, set[str]]
    messages: dict[tuple[str, str], list[OutgoingMessage]]
    suppressed: dict[tuple[str, str], list[str]]


def run_file(path: Path, base: Settings) -> FileResult:
    """Run every step of the test file ``path``; settings start from ``base``."""
    result = FileResult(path)
    name = str(path)
    loaded = _load(path, result)
    if loaded is None:
        return result
    spec, source = loaded
    with tempfile.TemporaryDirectory(prefix="patron-test-") as scratch:
        app = _scratch_app(spec, source, path, base, Path(scratch), result)
        if app is None:
            return result
        try:
            rules = app.load_rules()
        except UserError as exc:
            problems = getattr(exc, "problems", None)
            result.problems.extend(problems or [Problem(name, source.line(("rules",)), str(exc))])
            return result
        if not _load_data(app, spec, source, name, Path(scratch), result):
            return result
        known_rules = {r.id for r in rules.rules} | {f"journey:{j}" for j in _journey_ids(rules)}
        known_customers = {str(c.get("external_id")) for c in spec.customers}
        for index, step in enumerate(spec.steps):
            where = ("steps", index)
            try:
                as_of = parse_instant(step.at, app.settings.zone)
            except UserError as exc:
                result.problems.append(Problem(name, source.line((*where, "at")), str(exc)))
                return result
            outcome = _run_step(app, rules, as_of)
            result.steps += 1
            _check(step, outcome, source, where, known_rules, known_customers, result)
        with app.store.engine.connect() as conn:
            written = set(conn.scalars(select(ledger.c.rule_id).distinct()))
        app.close()
    unknown = {rule for rule, _ in result.unsure if rule not in written}
    result.failures = [f for f in result.failures if f.rule not in unknown]
    for rule, failure in result.unsure:
        if rule in unknown:
            hint = did_you_mean(rule, known_rules | written)
            failure.message = f"no rule '{rule}' in the loaded rules or the ledger{hint}"
            result.failures.append(failure)
    result.failures.sort(key=lambda f: f.line)
    return result


def _load(path: Path, result: FileResult) -> tuple[RuleTestFile, SourceMap] | None:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(Problem(name, None, f"cannot read the test file: {exc}"))
        return None
    document = load_yaml(text)
    if document.problems:
        result.problems.extend(Problem(name, p.line, p.message) for p in document.problems)
        return None
    try:
        spec = RuleTestFile.model_validate(document.data or {})
    except ValidationError as exc:
        for err in schema_errors(exc, RuleTestFile):
            result.problems.append(
                Problem(name, document.source.line(err.loc), err.message, key=dotted(None, err.key))
            )
        return None
    if not spec.steps:
        result.problems.append(Problem(name, 1, "no steps: add at least one under steps:"))
        return None
    return spec, document.source


def _scratch_app(
    spec: RuleTestFile,
    source: SourceMap,
    path: Path,
    base: Settings,
    scratch: Path,
    result: FileResult,
) -> App | None:
    here = path.resolve().parent
    default_rules = here.parent if here.name == "tests" else here
    rule_paths = [(here / p).resolve() for p in spec.rules] or [default_rules]
    data = base.model_dump(mode="json")
    data.update(spec.settings)
    data.update(
        database_url=f"sqlite:///{scratch / 'test.db'}",
        outbox_dir=str(scratch / "outbox"),
        rule_paths=[str(p) for p in rule_paths],
        template_paths=[str(base.resolve(p)) for p in base.template_paths],
        base_dir=base.base_dir,
    )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = ("settings", *err["loc"])
            result.problems.append(
                Problem(str(path), source.line(loc), err["msg"], key=dotted(None, loc))
            )
        return None
    return build_app(settings=settings)


def _journey_ids(rules: Any) -> list[str]:
    section = rules.sections.get("journeys")
    value = getattr(section, "value", None)
    return [str(getattr(j, "id", "")) for j in getattr(value, "journeys", None) or []]


def _load_data(
    app: App, spec: RuleTestFile, source: SourceMap, name: str, scratch: Path, result: FileResult
) -> bool:
    """Import the customers and events through the importer; its row numbers map to lines."""
    people = scratch / "customers.jsonl"
    people.write_text(
        "".join(json.dumps(c, default=str) + "\n" for c in spec.customers), encoding="utf-8"
    )
    events = scratch / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "customer": e.customer,
                    "type": e.type,
                    "occurred_at": e.at,
                    "amount": None if e.amount is None else str(Decimal(str(e.amount))),
                    "value": e.value,
                    "ref": e.ref,
                    "payload": e.payload,
                }
            )
            + "\n"
            for e in spec.events
        ),
        encoding="utf-8",
    )
    ok = True
    for key, report in (
        ("customers", import_customers(app.store, people, app.settings)),
        (
            "events",
            import_events(app.store, events, app.settings, app.registry.event_types.names())
            if spec.events
            else None,
        ),
    ):
        for problem in report.rejected if report else []:
            index = (problem.line or 1) - 1  # a JSON Lines row per entry, in order
            result.problems.append(Problem(name, source.line((key, index)), problem.message))
            ok = False
    return ok


def _run_step(app: App, rules: Any, as_of: int) -> StepOutcome:
    sent: list[OutgoingMessage] = []
    channels = recording_channels(app.registry, app.settings, sent)
    summary = cycle_then_deliver(app, rules, as_of, channels)
    fired: dict[str, set[str]] = {}
    suppressed: dict[tuple[str, str], list[str]] = {}
    query = (
        select(
            ledger.c.rule_id,
            customers.c.external_id,
            ledger.c.status,
            ledger.c.suppressed_reason,
            ledger.c.action_index,
        )
        .join(customers, customers.c.id == ledger.c.customer_id)
        .where(ledger.c.created_at == as_of)
    )
    if summary.cycle_id is not None:
        query = query.where(ledger.c.cycle_id == summary.cycle_id)
    with app.store.engine.connect() as conn:
        # every ledger row of the instant counts: a rule's actions share their firing,
        # and a journey writes one row per step it reaches
        for rule_id, customer, status, reason, _action_index in conn.execute(query):
            fired.setdefault(rule_id, set()).add(customer)
            if status == "suppressed":
                suppressed.setdefault((rule_id, customer), []).append(reason or "")
    messages: dict[tuple[str, str], list[OutgoingMessage]] = {}
    for message in sent:
        messages.setdefault((message.rule_id, message.customer_external_id), []).append(message)
    return StepOutcome(fired, messages, suppressed)


def _check(
    step: Step,
    outcome: StepOutcome,
    source: SourceMap,
    where: tuple[str, int],
    known_rules: set[str],
    known_customers: set[str],
    result: FileResult,
) -> None:
    label = step.name or f"at {step.at}"

    def fail(loc: tuple[Any, ...], message: str, rule: str | None = None) -> None:
        result.failures.append(Failure(source.line((*where, *loc)), label, message, rule))

    def unknown(loc: tuple[Any, ...], rule: str, people: list[str]) -> bool:
        if rule not in known_rules:
            result.unsure.append((rule, Failure(source.line((*where, *loc)), label, "")))
        missing = [p for p in people if p not in known_customers]
        for person in missing:
            fail(loc, f"no customer '{person}' in this file{did_you_mean(person, known_customers)}")
        return bool(missing)

    for rule, expected in step.fires.items():
        result.checks += 1
        if unknown(("fires", rule), rule, expected):
            continue
        got = outcome.fired.get(rule, set())
        if got != set(expected):
            fail(("fires", rule), _diff(f"rule '{rule}' fired for", set(expected), got), rule)
    for rule, excluded in step.not_fires.items():
        result.checks += 1
        if unknown(("not_fires", rule), rule, excluded):
            continue
        wrong = sorted(outcome.fired.get(rule, set()) & set(excluded))
        if wrong:
            fail(
                ("not_fires", rule),
                f"rule '{rule}' fired for {', '.join(wrong)}, expected not",
                rule,
            )
    for i, check in enumerate(step.messages):
        result.checks += 1
        if unknown(("messages", i), check.rule, [check.customer]):
            continue
        found = outcome.messages.get((check.rule, check.customer), [])
        wanted = [check.contains] if isinstance(check.contains, str) else check.contains
        if not found:
            fail(
                ("messages", i),
                f"no message of rule '{check.rule}' was sent to {check.customer}",
                check.rule,
            )
            continue
        texts = [f"{m.subject}\n{m.body}" for m in found]
        absent = [w for w in wanted if not any(w in t for t in texts)]
        if absent:
            shown = "\n".join("    | " + line for line in texts[0].splitlines())
            fail(
                ("messages", i),
                f"the message of rule '{check.rule}' to {check.customer} does not contain "
                + ", ".join(repr(a) for a in absent)
                + f"; it reads:\n{shown}",
                check.rule,
            )
    for i, held in enumerate(step.suppressed):
        result.checks += 1
        if unknown(("suppressed", i), held.rule, [held.customer]):
            continue
        reasons = outcome.suppressed.get((held.rule, held.customer), [])
        if not any(held.reason in r for r in reasons):
            got_text = "; ".join(reasons) if reasons else "it was not suppressed"
            fail(
                ("suppressed", i),
                f"rule '{held.rule}' for {held.customer}: expected suppression "
                f"'{held.reason}', got: {got_text}",
                held.rule,
            )


def _diff(what: str, expected: set[str], got: set[str]) -> str:
    lines = [f"{what} {', '.join(sorted(got)) or 'nobody'}"]
    lines += [f"    - {c}   (expected, did not fire)" for c in sorted(expected - got)]
    lines += [f"    + {c}   (fired, not expected)" for c in sorted(got - expected)]
    return "\n".join(lines)
