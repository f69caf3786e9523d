"""Outbox (sender side) and inbox (receiver side) of hand-overs, one table each per tenant.

Both rows carry the same ``transfer_id``; it is unique on each side, so delivering a hand-over
twice (a retried arq job) finds the inbox row already there and never creates a second incident.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

# pending: written, not delivered yet; delivered: in the receiver's inbox (ringing there);
# accepted / declined: the receiver decided (declined goes back to the sender's open incidents).
OUTBOX_STATUSES = ("pending", "delivered", "accepted", "declined")
INBOX_STATUSES = ("ringing", "accepted", "declined")
INBOX_SOURCES = ("regency", "external")


class HandoverOutbox(TenantBase):
    __tablename__ = "handover_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN {OUTBOX_STATUSES}", name="status"),
        CheckConstraint("(incident_id IS NULL) <> (call_id IS NULL)", name="incident_or_call"),
        Index("ix_handover_outbox_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    # What is handed over: an incident, or a call that has none yet (a caller across the border).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    # The receiving regency, by its registry identity (public.tenants); no FK out of the schema.
    receiver_tenant_id: Mapped[int] = mapped_column(Integer)
    receiver_slug: Mapped[str] = mapped_column(String(47))
    receiver_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    document: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_label: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HandoverInbox(TenantBase):
    __tablename__ = "handover_inbox"
    __table_args__ = (
        CheckConstraint(f"status IN {INBOX_STATUSES}", name="status"),
        CheckConstraint(f"source IN {INBOX_SOURCES}", name="source"),
        Index("ix_handover_inbox_status", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    source: Mapped[str] = mapped_column(String(10), default="regency")
    # Regency sender: its registry id (to report the decision back); external: NULL.
    sender_tenant_id: Mapped[int | None] = mapped_column(Integer)
    sender_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    document: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10), default="ringing")
    decline_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # The decision has been reported back to the sender's outbox (regency source only).
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = utcnow_column()
