"""The journeys cycle stage: exit, enroll and advance every journey, set-based.

For each enabled journey, in the cycle's transaction, after every other stage:

1. **exit**: active enrollments whose ``exit_when`` holds are *converted* (the time of
   the first purchase since enrolling, else the cycle's instant, and the spend since
   enrolling are recorded); those whose ``stop_when`` holds are *exited*;
2. **enroll**: customers whose ``enroll_when`` holds and whom the re-entry policy lets in
   get an enrollment; its arm (treatment or holdout) comes from a stable hash
   (:mod:`core.journeys.holdout`) and is recorded;
3. **advance**: one pass over the flattened program in index order. Enrollments at an
   instruction that is due move on: a ``send`` writes a ledger row for the treatment arm
   (idempotency key ``journey:<id>/<enrollment>/<step>``) and none for the holdout
   (recorded as ``held_out``); a ``wait`` moves on once its due time passed; a
   ``wait_until`` once its condition holds or its timeout passed; an ``if`` to its
   ``then`` or ``else`` block. Every step done is a row UNIQUE by (enrollment, step),
   and a send whose step row exists is never written again.

Conditions compile with :func:`core.expr.to_sql` over the feature table joined with
the enrollment (``days_in_journey``, ``purchases_since_enrollment``,
``spend_since_enrollment``); no customer passes through Python. In a dry run all of it
happens in the transaction that is rolled back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from core.expr import Expr, feature_names, to_sql
from core.journeys.holdout import holdout_bucket_sql
from core.journeys.program import Instruction, Journey, send_args
from core.journeys.progress import (
    add_new_enrollments,
    fill_progress,
    journey_columns,
    moves_table,
)
from core.journeys.section import journeys_of
from core.journeys.tables import Arm, EnrollmentStatus, enrollments, step_runs
from core.sql_exists import probe
from core.store import LedgerEntry, LedgerStatus
from core.store.ledger_args import args_columns
from core.store.tables import table_of
from core.temp_tables import recreate
from core.vocabulary import CycleStage, StageContext

ledger = table_of(LedgerEntry)
ACTIVE = EnrollmentStatus.ACTIVE.value


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


class JourneyPass:
    """One journey's work in one cycle."""

    def __init__(self, stage: StageContext, journey: Journey, progress: Table) -> None:
        self.conn = stage.conn
        self.journey = journey
        self.as_of = stage.ctx.as_of
        self.cycle_id = stage.cycle_id
        self.features: Table = stage.features
        self.progress = progress
        self.e = enrollments.alias("enrollment")  # not the UPDATE target: no correlation
        self.columns = journey_columns(self.features, progress, self.as_of, self.e)
        self.counts: Counter[str] = Counter()

    def where(self, expr: Expr) -> ColumnElement[bool]:
        return to_sql(expr, self.columns)

    def scope(self) -> Any:
        """Active enrollments of this journey with their features and progress."""
        e, f, p = self.e, self.features, self.progress
        return (
            select(e.c.id, e.c.customer_id, e.c.arm)
            .select_from(
                e.join(f, f.c.customer_id == e.c.customer_id).join(p, p.c.enrollment_id == e.c.id)
            )
            .where(e.c.journey_id == self.journey.id, e.c.status == ACTIVE)
        )

    # 1. exit ---------------------------------------------------------------------------

    def end_where(self, expr: Expr | None, status: EnrollmentStatus) -> int:
        if expr is None:
            return 0
        ids = self.scope().where(self.where(expr)).with_only_columns(self.e.c.id)
        values: dict[str, Any] = {"status": status.value, "ended_at": self.as_of}
        if status is EnrollmentStatus.CONVERTED:
            p = self.progress
            mine = p.c.enrollment_id == enrollments.c.id
            first = select(p.c.first_purchase_at).where(mine).scalar_subquery()
            values["converted_at"] = func.coalesce(first, self.as_of)
            values["conversion_amount"] = select(p.c.spend).where(mine).scalar_subquery()
        ended = self.conn.execute(
            update(enrollments).where(enrollments.c.id.in_(ids)).values(values),
            execution_options={"preserve_rowcount": True},
        ).rowcount
        self.counts[status.value] += ended
        return int(ended)

    # 2. enroll ---------------------------------------------------------------------------

    def due_at(self, target: int) -> int:
        program = self.journey.program
        if target < len(program) and program[target].kind in ("wait", "wait_until"):
            return self.as_of + (program[target].seconds or 0)
        return self.as_of

    def enroll(self) -> int:
        j, f = self.journey, self.features
        earlier = enrollments.alias("earlier")
        blocking = earlier.c.status == ACTIVE
        if j.reentry_seconds is None:
            blocking = true()
        else:
            blocking = or_(blocking, earlier.c.ended_at > self.as_of - j.reentry_seconds)
        arm = case(
            (holdout_bucket_sql(j.id, f.c.customer_id) < j.holdout_percent, Arm.HOLDOUT.value),
            else_=Arm.TREATMENT.value,
        )
        rows = select(
            literal(j.id).label("journey_id"),
            f.c.customer_id,
            literal(self.as_of).label("enrolled_at"),
            arm.label("arm"),
            literal(0).label("step"),
            literal(self.as_of).label("step_entered_at"),
            literal(self.due_at(0)).label("step_due_at"),
            literal(ACTIVE).label("status"),
        ).where(
            to_sql(j.enroll, self.columns),
            ~probe(
                earlier.c.journey_id == j.id,
                earlier.c.customer_id == f.c.customer_id,
                blocking,
            ),
        )
        statement = (
            _insert(self.conn, enrollments)
            .from_select([c.name for c in rows.selected_columns], rows)
            .on_conflict_do_nothing(index_elements=["journey_id", "customer_id", "enrolled_at"])
        )
        enrolled = self.conn.execute(statement, execution_options={"preserve_rowcount": True})
        self.counts["enrolled"] += enrolled.rowcount
        add_new_enrollments(self.conn, j.id, self.as_of)
        return int(enrolled.rowcount)

    # 3. advance --------------------------------------------------------------------------

    def move(self, candidates: Any, target: int, outcome: str) -> int:
        """Queue ``candidates`` to go to ``target`` (the first queued wins for an enrollment).

        ``outcome`` is recorded on the step run; ``sent`` reads ``held_out`` for the holdout.
        """
        moves = moves_table()
        done = target >= len(self.journey.program)
        status = EnrollmentStatus.COMPLETED.value if done else ACTIVE
        c = candidates.subquery()
        recorded: ColumnElement[Any] = literal(outcome)
        if outcome == "sent":
            recorded = case((c.c.arm == Arm.HOLDOUT.value, "held_out"), else_="sent")
        rows = select(
            c.c.id,
            c.c.customer_id,
            c.c.arm,
            literal(target),
            recorded,
            literal(self.due_at(target)),
            literal(status),
            literal(self.as_of if done else None),
        ).where(true())
        names = [col.name for col in moves.columns]
        statement = (
            _insert(self.conn, moves)
            .from_select(names, rows)
            .on_conflict_do_nothing(index_elements=["enrollment_id"])
        )
        return int(
            self.conn.execute(statement, execution_options={"preserve_rowcount": True}).rowcount
        )

    def queue(self, ins: Instruction) -> int:
        at = self.scope().where(self.e.c.step == ins.index)
        due = self.e.c.step_due_at <= self.as_of
        if ins.kind == "send":
            return self.move(at.where(due), ins.next, "sent")
        if ins.kind == "wait":
            return self.move(at.where(due), ins.next, "waited")
        assert ins.condition is not None
        if ins.kind == "wait_until":
            met = self.move(at.where(self.where(ins.condition)), ins.next, "met")
            return met + self.move(at.where(due), ins.next, "timed_out")
        assert ins.else_next is not None
        taken = self.move(at.where(self.where(ins.condition)), ins.next, "then")
        return taken + self.move(at, ins.else_next, "else")

    def write_messages(self, ins: Instruction) -> int:
        """Ledger rows of a send step for the treatment arm, unless the step was done before."""
        assert ins.send is not None
        j, m = self.journey, moves_table()
        key = literal(f"{j.rule_id}/") + cast(m.c.enrollment_id, String) + literal(f"/{ins.index}")
        rows = select(
            key.label("idempotency_key"),
            literal(self.cycle_id).label("cycle_id"),
            literal(j.rule_id).label("rule_id"),
            m.c.customer_id,
            (literal("enrollment/") + cast(m.c.enrollment_id, String)).label("period"),
            literal(ins.index).label("action_index"),
            literal("send").label("action"),
            literal(j.category).label("category"),
            literal(j.priority).label("priority"),
            literal(LedgerStatus.PENDING.value).label("status"),
            literal(0).label("attempts"),
            literal(self.as_of).label("created_at"),
            literal(self.as_of).label("updated_at"),
            *args_columns(self.conn, send_args(ins.send)),
        ).where(
            m.c.arm == Arm.TREATMENT.value,
            ~probe(step_runs.c.enrollment_id == m.c.enrollment_id, step_runs.c.step == ins.index),
        )
        statement = (
            _insert(self.conn, ledger)
            .from_select([c.name for c in rows.selected_columns], rows)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        return int(
            self.conn.execute(statement, execution_options={"preserve_rowcount": True}).rowcount
        )

    def apply_moves(self, ins: Instruction) -> None:
        m = moves_table()
        runs = select(
            m.c.enrollment_id, literal(ins.index), literal(self.as_of), m.c.outcome
        ).where(true())
        self.conn.execute(
            _insert(self.conn, step_runs)
            .from_select(["enrollment_id", "step", "executed_at", "outcome"], runs)
            .on_conflict_do_nothing(index_elements=["enrollment_id", "step"])
        )
        self.conn.execute(
            update(enrollments)
            .where(enrollments.c.id == m.c.enrollment_id)
            .values(
                step=m.c.target,
                step_entered_at=self.as_of,
                step_due_at=m.c.due_at,
                status=m.c.status,
                ended_at=m.c.ended_at,
            )
        )

    def advance(self) -> None:
        moves = moves_table()
        recreate(self.conn, moves)
        for ins in self.journey.program:
            self.conn.execute(moves.delete())
            if not self.queue(ins):
                continue
            if ins.kind == "send":
                self.counts["messages"] += self.write_messages(ins)
                held = select(func.count()).where(moves.c.arm == Arm.HOLDOUT.value)
                self.counts["held_out"] += int(self.conn.execute(held).scalar_one())
            completed = select(func.count()).where(
                moves.c.status == EnrollmentStatus.COMPLETED.value
            )
            self.counts["completed"] += int(self.conn.execute(completed).scalar_one())
            self.apply_moves(ins)
        # an enrollment past the end (the journey lost steps since) is complete
        left = self.conn.execute(
            update(enrollments)
            .where(
                enrollments.c.journey_id == self.journey.id,
                enrollments.c.status == ACTIVE,
                enrollments.c.step >= len(self.journey.program),
            )
            .values(status=EnrollmentStatus.COMPLETED.value, ended_at=self.as_of),
            execution_options={"preserve_rowcount": True},
        ).rowcount
        self.counts["completed"] += left


def run_journeys_stage(stage: StageContext) -> dict[str, int]:
    """Exit, enroll and advance every enabled journey of the rule set; return counts."""
    journeys = [j for j in journeys_of(stage.rules, None) if j.enabled]
    totals: Counter[str] = Counter()
    if not journeys:
        return {}
    progress = fill_progress(stage.conn, stage.ctx.as_of)
    for journey in journeys:
        run = JourneyPass(stage, journey, progress)
        run.end_where(journey.exit, EnrollmentStatus.CONVERTED)
        run.end_where(journey.stop, EnrollmentStatus.EXITED)
        run.enroll()
        run.advance()
        totals.update(run.counts)
    keys = ("enrolled", "converted", "exited", "completed", "messages", "held_out")
    return {key: totals[key] for key in keys}


def journeys_reads(rules: Any) -> set[str]:
    """The features named by the enabled journeys' conditions (the enrollment's own
    variables, such as purchases_since_enrollment, are not features)."""
    names: set[str] = set()
    for journey in journeys_of(rules, None):
        if journey.enabled:
            conditions = [journey.enroll, journey.exit, journey.stop]
            conditions += [step.condition for step in journey.program]
            for condition in conditions:
                if condition is not None:
                    names |= feature_names(condition)
    return names


JOURNEYS_STAGE = CycleStage(
    name="journeys",
    run=run_journeys_stage,
    after=("*",),  # enroll on the values every other stage (tiers, churn scores) refreshed
    description="Exits converted customers, enrolls new ones (recording treatment or holdout) "
    "and advances every journey, writing the ledger rows of due send steps.",
    reads=journeys_reads,
)

__all__ = ["JOURNEYS_STAGE", "JourneyPass", "journeys_reads", "run_journeys_stage"]
