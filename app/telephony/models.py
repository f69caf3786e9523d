"""Telephony tables: integrator secrets, seen event ids, AML positions, callback tasks, watch list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

CALLBACK_STATUSES = ("open", "done", "void")
AML_METHODS = ("G", "W", "C", "N")


class WebhookSecret(TenantBase):
    """HMAC secrets of the integrator. The newest is active; a replaced one stays valid until
    ``valid_until`` so the integrator can switch without dropping events."""

    __tablename__ = "telephony_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = utcnow_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # NULL while active; set to "rotation time + grace" when a newer secret replaces it.
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TelephonyEvent(TenantBase):
    """Every accepted integrator event; the unique event id refuses replays durably."""

    __tablename__ = "telephony_events"
    __table_args__ = (Index("ix_telephony_events_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    external_call_id: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = utcnow_column()


class AmlLocation(TenantBase):
    """A handset position (ETSI TS 103 625); ``call_id`` is NULL until a live call matches."""

    __tablename__ = "aml_locations"
    __table_args__ = (
        CheckConstraint(f"method IN {AML_METHODS}", name="method"),
        Index("ix_aml_locations_caller_received", "caller_number", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(16))  # None: matched by IMEI/IMSI
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    positioned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confidence: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(1))
    imsi: Mapped[str | None] = mapped_column(String(15))
    imei: Mapped[str | None] = mapped_column(String(16))
    mcc: Mapped[str | None] = mapped_column(String(3))
    mnc: Mapped[str | None] = mapped_column(String(3))
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = utcnow_column()
    # Plausibility flags (app.location.sanity): a flagged fix is kept and shown, never chosen.
    flags: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")


class CallbackTask(TenantBase):
    """A missed or abandoned call someone must ring back; ``void`` when a late event shows it was answered."""

    __tablename__ = "callback_tasks"
    __table_args__ = (
        CheckConstraint(f"status IN {CALLBACK_STATUSES}", name="status"),
        Index("ix_callback_tasks_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # One per call, guaranteed by the call row lock held while telephony events are applied.
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(16))  # None: no number to ring back
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = utcnow_column()
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(500))


class WatchEntry(TenantBase):
    """A number a supervisor flagged. Only ever a WARNING in the console: 112 is never blocked."""

    __tablename__ = "caller_watch_list"
    __table_args__ = (
        Index(
            "uq_caller_watch_list_active_number",
            "caller_number",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller_number: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
