"""Messages of a text conversation. The conversation itself IS a ``calls`` row (channel sms or
whatsapp), so answer clocks, outcomes, incidents, dispatches and national counts treat it as a call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

DIRECTIONS = ("in", "out")
# in: received. out: queued → sent → delivered → read, or failed (WhatsApp statuses; SMS stops at sent).
STATES = ("received", "queued", "sent", "delivered", "read", "failed")


class Message(TenantBase):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        CheckConstraint(f"direction IN {DIRECTIONS}", name="direction"),
        CheckConstraint(f"state IN {STATES}", name="state"),
        Index("ix_conversation_messages_call_id", "call_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    direction: Mapped[str] = mapped_column(String(3))
    body: Mapped[str] = mapped_column(Text)
    # The provider's id (WhatsApp wamid, SMS gateway id): unique, so a redelivered webhook is ignored.
    provider_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(String(300))
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    state_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
