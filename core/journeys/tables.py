"""Durable journey state: enrollments and the steps each one has done.

An enrollment remembers where its customer is (``step``, the index of the current
instruction) and when that step is due (``step_due_at``: the end of a wait, the timeout
of a wait_until), so waits survive restarts and rule reloads: nothing about them lives
in memory. Each executed step is a row UNIQUE by (enrollment, step), so a step is done
at most once per enrollment, whatever happens to the process.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.store.tables import BigId, table_of


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"  # exit_when held: the journey reached its goal
    EXITED = "exited"  # stop_when held: left without converting
    COMPLETED = "completed"  # every step done without conversion


class Arm(StrEnum):
    TREATMENT = "treatment"
    HOLDOUT = "holdout"  # tracked like the treatment group, but gets no messages


class JourneyEnrollment(SQLModel, table=True):
    """One customer's pass through one journey."""

    __tablename__ = "journey_enrollments"
    __table_args__ = (
        UniqueConstraint("journey_id", "customer_id", "enrolled_at", name="uq_journey_enrollment"),
        Index("ix_journey_enrollments_progress", "journey_id", "status", "step"),
        Index("ix_journey_enrollments_customer", "customer_id", "journey_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    journey_id: str = Field(max_length=128)
    customer_id: int = Field(foreign_key="customers.id")
    enrolled_at: int = Field(sa_type=BigInteger)
    arm: str = Field(max_length=16, description="treatment or holdout")
    step: int = Field(default=0, description="index of the current instruction")
    step_entered_at: int = Field(sa_type=BigInteger)
    step_due_at: int = Field(sa_type=BigInteger, description="when the current step is due")
    status: str = Field(default=EnrollmentStatus.ACTIVE, max_length=16)
    ended_at: int | None = Field(default=None, sa_type=BigInteger)
    converted_at: int | None = Field(default=None, sa_type=BigInteger)
    conversion_amount: int | None = Field(
        default=None, sa_type=BigInteger, description="spend since enrollment, minor units"
    )


class JourneyStepRun(SQLModel, table=True):
    """One step done by one enrollment (at most once: UNIQUE by enrollment and step)."""

    __tablename__ = "journey_step_runs"
    __table_args__ = (UniqueConstraint("enrollment_id", "step", name="uq_journey_step_run"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    enrollment_id: int = Field(foreign_key="journey_enrollments.id", sa_type=BigInteger)
    step: int
    executed_at: int = Field(sa_type=BigInteger)
    outcome: str = Field(
        max_length=16, description="sent, held_out, waited, met, timed_out, then, else"
    )


enrollments = table_of(JourneyEnrollment)
step_runs = table_of(JourneyStepRun)

__all__ = [
    "Arm",
    "EnrollmentStatus",
    "JourneyEnrollment",
    "JourneyStepRun",
    "enrollments",
    "step_runs",
]
