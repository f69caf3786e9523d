"""In-app notifications (per audience) and outgoing webhook deliveries to OPD systems.

Both carry a ``dedupe_key`` with a unique constraint, so a job that runs twice (arq may) cannot
notify twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

AUDIENCES = ("supervisors", "opd")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Notification(TenantBase):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"audience IN {AUDIENCES}", name="audience"),
        CheckConstraint("(audience = 'opd') = (opd_id IS NOT NULL)", name="opd_audience"),
        Index("ix_notifications_audience_created", "audience", "opd_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    audience: Mapped[str] = mapped_column(String(12))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # sla.warning | sla.breached | sla.escalated
    level: Mapped[int] = mapped_column(SmallInteger, default=0)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = utcnow_column()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class WebhookDelivery(TenantBase):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        Index("ix_webhook_deliveries_pending", "status", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    opd_id: Mapped[int] = mapped_column(ForeignKey("opds.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSONB)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = utcnow_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
