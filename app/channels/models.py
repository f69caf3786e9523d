"""Per-regency channel configuration, on-duty contacts, push subscriptions and the outbox.

``channel_messages`` IS the outbox and the delivery log: one row per (kind, subject, recipient,
channel), unique ``dedupe_key``, written in the dispatch's (or SLA firing's) own transaction.
Its status moves pending → sending → sent → delivered → read, or → failed / uncertain (then the
next channel of that contact gets its own row). See docs/channels.md.
"""

from __future__ import annotations

from datetime import datetime, time

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
    Text,
    Time,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.channels.base import CHANNELS
from app.db.base import TenantBase, utcnow_column

CONTACT_ROLES = ("duty", "escalation")
MESSAGE_STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed", "uncertain", "cancelled")
# How people read them: the delivery log (app.channels) and an SLA clock's alerts (app.sla).
MESSAGE_LABELS = {
    "pending": "menunggu",
    "sending": "dikirim…",
    "sent": "terkirim ke penyedia",  # accepted by the provider; Telegram and SMTP give no more
    "delivered": "sampai",
    "read": "dibaca",
    "failed": "gagal",
    "uncertain": "tidak pasti",
    "cancelled": "dibatalkan",
}


class ChannelConfig(TenantBase):
    __tablename__ = "channel_configs"
    # The channel name is checked by service.save_config (the only writer).

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict] = mapped_column(JSONB, default=dict)
    secrets_enc: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object
    last_test_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_detail: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = utcnow_column()


class ChannelContact(TenantBase):
    """A person or group reached on one or more channels (``channels``: ordered fallback list of
    {"channel", "address"}). ``opd_id`` NULL: the regency's own (supervisors) contacts."""

    __tablename__ = "channel_contacts"
    __table_args__ = (
        CheckConstraint(f"role IN {CONTACT_ROLES}", name="role"),
        CheckConstraint("days ~ '^[1-7]{0,7}$'", name="days"),
        Index("ix_channel_contacts_opd", "opd_id", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(10), default="duty")
    channels: Mapped[list] = mapped_column(JSONB, default=list)
    # Duty schedule in the regency's time zone: ISO weekdays (1 = Monday) and a daily window
    # (both NULL: all day; start > end: an overnight shift).
    days: Mapped[str] = mapped_column(String(7), default="1234567")
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = utcnow_column()


class PushSubscription(TenantBase):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    subscription: Mapped[dict] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = utcnow_column()


class ChannelMessage(TenantBase):
    __tablename__ = "channel_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {MESSAGE_STATUSES}", name="status"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        Index(
            "ix_channel_messages_due",
            "next_attempt_at",
            postgresql_where="status IN ('pending', 'sending')",
        ),
        Index("ix_channel_messages_provider", "channel", "provider_id"),
        Index("ix_channel_messages_dispatch", "dispatch_id"),
        Index("ix_channel_messages_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(
        String(20)
    )  # dispatch | sla.warning | sla.breached | sla.escalated | text
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id", ondelete="CASCADE"))
    clock_id: Mapped[int | None] = mapped_column(BigInteger)
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("channel_contacts.id", ondelete="SET NULL"))
    push_subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(String(160))  # who, for the delivery log
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(SmallInteger, default=0)  # position in the contact's fallback list
    body: Mapped[dict] = mapped_column(JSONB, default=dict)  # free text for kind=text
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = utcnow_column()
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = utcnow_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ack_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ack_via: Mapped[str | None] = mapped_column(String(20))


class ChannelWebhookEvent(TenantBase):
    """Provider event ids already processed: a replayed webhook changes nothing."""

    __tablename__ = "channel_webhook_events"

    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = utcnow_column()
