"""SLA policies (targets per priority/category) and SLA clocks (one per target per call/incident/dispatch).

A clock row IS the timer: its deadline, warning and escalation times live in PostgreSQL, and
``next_due_at`` says when something must next happen to it. Redis only holds a copy of the
near-future timers; the reconciliation cron rebuilds them from these rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

# kind -> (what the clock measures, the entity it is attached to)
CLOCK_KINDS = ("answer", "dispatch", "acknowledge", "arrival", "resolution")
SUBJECTS = ("call", "incident", "dispatch")
CLOSE_REASONS = ("done", "cancelled")


class SlaPolicy(TenantBase):
    """Targets in seconds; NULL target = that step is not measured for this policy."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        CheckConstraint("warning_pct BETWEEN 1 AND 99", name="warning_pct"),
        CheckConstraint("escalation_delay_s > 0", name="escalation_delay"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "P1" or "P1/C7": one policy per (priority, category); a single unique column (see policy_scope).
    scope: Mapped[str] = mapped_column(String(40), unique=True)
    priority: Mapped[int] = mapped_column(SmallInteger)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    answer_s: Mapped[int | None] = mapped_column(Integer)
    dispatch_s: Mapped[int | None] = mapped_column(Integer)
    acknowledge_s: Mapped[int | None] = mapped_column(Integer)
    arrival_s: Mapped[int | None] = mapped_column(Integer)
    resolution_s: Mapped[int | None] = mapped_column(Integer)
    warning_pct: Mapped[int] = mapped_column(SmallInteger, default=80)
    escalation_delay_s: Mapped[int] = mapped_column(Integer, default=300)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = utcnow_column()

    def target_for(self, kind: str) -> int | None:
        return getattr(self, f"{kind}_s")


def policy_scope(priority: int, category_id: int | None) -> str:
    return f"P{priority}" + (f"/C{category_id}" if category_id else "")


def clock_key(kind: str, subject: str, subject_id: int) -> str:
    return f"{kind}:{subject}:{subject_id}"


class SlaClock(TenantBase):
    __tablename__ = "sla_clocks"
    __table_args__ = (
        CheckConstraint(f"kind IN {CLOCK_KINDS}", name="kind"),
        CheckConstraint(f"subject IN {SUBJECTS}", name="subject"),
        CheckConstraint(f"close_reason IN {CLOSE_REASONS}", name="close_reason"),
        CheckConstraint("escalation_level BETWEEN 0 AND 2", name="escalation_level"),
        Index("ix_sla_clocks_next_due", "next_due_at", postgresql_where="next_due_at IS NOT NULL"),
        Index("ix_sla_clocks_started", "started_at"),
        Index("ix_sla_clocks_incident", "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # "<kind>:<subject>:<id>": one clock per target per call/incident/dispatch (see clock_key).
    key: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    subject: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    # Denormalised at start so reports group without joins that change meaning over time.
    call_id: Mapped[int | None] = mapped_column(BigInteger)
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    dispatch_id: Mapped[int | None] = mapped_column(BigInteger)
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id", ondelete="SET NULL"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(SmallInteger)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    target_s: Mapped[int] = mapped_column(Integer)
    warning_pct: Mapped[int] = mapped_column(SmallInteger)
    escalation_delay_s: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    warn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalate_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When this clock next needs the worker (warning, breach or level-2 escalation); NULL = nothing.
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Detection lateness: breached_at - deadline (how late the system noticed).
    lateness_ms: Mapped[int | None] = mapped_column(BigInteger)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(String(10))
    # Actual duration of the step (stopped_at - started_at) and its overrun (stopped_at - deadline).
    actual_ms: Mapped[int | None] = mapped_column(BigInteger)
    overrun_ms: Mapped[int | None] = mapped_column(BigInteger)
    met: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = utcnow_column()
