"""National caller reputation (public schema), and the supervisor reviews a regency keeps of its
own callers (tenant schema). Numbers are never stored in the public table: only an HMAC of
the E.164 number under a national key (``key_id`` names the key, so keys can be rotated).

One row per (key, hashed number, regency, local day) with outcome counts; the lookup sums a
window of days. Rows older than the retention setting are deleted by a job.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import PublicBase, TenantBase, utcnow_column

REPUTATION_OUTCOMES = ("prank", "silent", "genuine")

caller_reputation = Table(
    "caller_reputation",
    PublicBase.metadata,
    Column("key_id", String(16), primary_key=True),
    Column("number_hash", LargeBinary(32), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    *[Column(o, Integer, nullable=False, server_default="0", default=0) for o in REPUTATION_OUTCOMES],
    Index("ix_caller_reputation_day", "day"),
)


# --- step 3 of the graduated scale: a supervisor review (tenant schema) -------------------------

REVIEW_DECISIONS = ("no_action", "watch_list", "warning_sms")


class CallerReview(TenantBase):
    """An operator asked a supervisor to look at a caller (step 3 of the scale). The decision is
    a measure the scale allows (nothing, the watch list, a warning SMS): never a block of 112."""

    __tablename__ = "caller_reviews"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint(f"decision IS NULL OR decision IN {REVIEW_DECISIONS}", name="decision"),
        # one open review per number: asking again joins the one already waiting
        Index(
            "uq_caller_reviews_open_number",
            "caller_number",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_caller_reviews_status", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    caller_number: Mapped[str] = mapped_column(String(16))
    # What the operator saw when asking (the national record moves on; the request keeps its reason).
    national_summary: Mapped[str] = mapped_column(String(200), default="")
    local_suspicious: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = utcnow_column()
    status: Mapped[str] = mapped_column(String(6), default="open")
    decision: Mapped[str | None] = mapped_column(String(12))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
