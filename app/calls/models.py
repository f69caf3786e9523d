"""Calls, incidents and the append-only event log that records every change to them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

CHANNELS = ("voice", "sms", "whatsapp", "app", "walk_in")
OUTCOMES = ("emergency", "non_emergency_info", "prank", "silent", "misdial", "duplicate")
INCIDENT_STATUSES = ("open", "closed")
TELEPHONY_STATES = ("ringing", "answered", "transferred", "ended", "missed")


class Call(TenantBase):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome"),
        CheckConstraint(
            "(outcome = 'duplicate') = (duplicate_of_id IS NOT NULL)", name="duplicate_has_original"
        ),
        Index("ix_calls_caller_received", "caller_number", "received_at"),
        Index("ix_calls_received_at", "received_at"),
        CheckConstraint(f"telephony_state IN {TELEPHONY_STATES}", name="telephony_state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # E.164 (+6281234567890); NULL when the network delivered no usable number (no SIM,
    # withheld, "anonymous", garbage): the call is taken anyway, flagged, with the raw value.
    caller_number: Mapped[str | None] = mapped_column(String(16))
    caller_number_raw: Mapped[str | None] = mapped_column(String(64))
    number_unavailable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Handset identity from the integrator (lets AML find a call that has no number).
    imei: Mapped[str | None] = mapped_column(String(16))
    imsi: Mapped[str | None] = mapped_column(String(15))
    channel: Mapped[str] = mapped_column(String(8), default="voice")
    language: Mapped[str] = mapped_column(String(8), default="id")
    received_at: Mapped[datetime] = utcnow_column()
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    # Set when the call arrived through the telephony integrator (its own call id).
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # Telephony (app/telephony): integrator state and timings, merged by event time, not arrival.
    telephony_state: Mapped[str | None] = mapped_column(String(12))
    called_number: Mapped[str | None] = mapped_column(String(16))
    trunk: Mapped[str | None] = mapped_column(String(40))
    operator_extension: Mapped[str | None] = mapped_column(String(20))
    transferred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    silent_suspected: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Caller position (AML or typed by the operator); radius in metres.
    location_lat: Mapped[float | None] = mapped_column(Float)
    location_lon: Mapped[float | None] = mapped_column(Float)
    location_radius_m: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(8))
    location_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A text conversation with a deaf or speech-impaired person ("tuli / tuna wicara"): never call back by voice.
    deaf_speech_impaired: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = utcnow_column()


class Incident(TenantBase):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        CheckConstraint(f"status IN {INCIDENT_STATUSES}", name="status"),
        Index("ix_incidents_open_category", "status", "category_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    priority: Mapped[int] = mapped_column(SmallInteger, default=2)
    status: Mapped[str] = mapped_column(String(8), default="open")
    address: Mapped[str | None] = mapped_column(String(500))
    kecamatan: Mapped[str | None] = mapped_column(String(100))
    kelurahan: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    people_involved: Mapped[int | None] = mapped_column(Integer)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = utcnow_column()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set on an incident this regency ACCEPTED as a hand-over (app.handover): the shared incident
    # id of the transfer, and where it came from ('regency' | 'external'). National figures count
    # a regency-to-regency hand-over once, not as a second incident.
    handover_transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    handover_source: Mapped[str | None] = mapped_column(String(10))


class EventLog(TenantBase):
    """Append-only history of calls, incidents and dispatches: corrections are new rows."""

    __tablename__ = "event_log"
    __table_args__ = (
        CheckConstraint("entity IN ('call', 'incident', 'dispatch')", name="entity"),
        Index("ix_event_log_entity", "entity", "entity_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity: Mapped[str] = mapped_column(String(10))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = utcnow_column()
    data: Mapped[dict] = mapped_column(JSONB, default=dict)


class IdempotencyKey(TenantBase):
    """A client's retry key (``Idempotency-Key`` header) and what its first request created, so
    a repeat is answered with the same incident/dispatches instead of writing them again.
    Written in the creating transaction: concurrent repeats wait on this row and find it."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)  # "incident", "dispatch:<incident id>"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    entity_ids: Mapped[list] = mapped_column(JSONB)
    created_at: Mapped[datetime] = utcnow_column()
