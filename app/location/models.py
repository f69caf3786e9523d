"""Location-share links sent to a caller, and the browser positions they return."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

LINK_CHANNELS = ("sms", "whatsapp")
SEND_STATES = ("queued", "sent", "failed")


class LocationLink(TenantBase):
    """A single-use, expiring link; only the sha256 of its token is stored (a leak yields no link)."""

    __tablename__ = "location_links"
    __table_args__ = (
        CheckConstraint(f"channel IN {LINK_CHANNELS}", name="channel"),
        CheckConstraint(f"send_state IN {SEND_STATES}", name="send_state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    to_number: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_state: Mapped[str] = mapped_column(String(8), default="queued")
    send_error: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()


FIX_SOURCES = ("link", "whatsapp")


class LinkFix(TenantBase):
    """A position the caller sent: through a location-share link (W3C Geolocation: accuracy in
    metres), or as a WhatsApp location message in a text-to-112 conversation (no accuracy given:
    WHATSAPP_ASSUMED_ACCURACY_M)."""

    __tablename__ = "link_fixes"
    __table_args__ = (CheckConstraint(f"source IN {FIX_SOURCES}", name="source"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    # One per link: submit_fix checks used_at under the link's row lock (FOR UPDATE). None: a
    # WhatsApp location message.
    link_id: Mapped[int | None] = mapped_column(ForeignKey("location_links.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    positioned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = utcnow_column()
    flags: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    source: Mapped[str] = mapped_column(String(8), default="link", server_default="link")
    provider_id: Mapped[str | None] = mapped_column(String(128), unique=True)  # the WhatsApp message id
