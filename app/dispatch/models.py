"""Agencies (OPD), incident categories, the routing between them, and dispatches to agencies."""

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
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

OPD_TYPES = (
    "kominfo",
    "bpbd",
    "damkar",
    "dinkes",
    "ambulans",
    "rsud",
    "satpolpp",
    "dishub",
    "pupr",
    "dinsos",
    "dpppa",
    "polisi",
    "basarnas",
    "pln",
    "pmi",
    "dprkp",
    "other",
)
DISPATCH_STATUSES = ("sent", "acknowledged", "en_route", "on_scene", "resolved", "rejected")


class Opd(TenantBase):
    __tablename__ = "opds"
    __table_args__ = (CheckConstraint(f"type IN {OPD_TYPES}", name="type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    emergency_number: Mapped[str | None] = mapped_column(String(20))
    escalation_contact: Mapped[str | None] = mapped_column(String(254))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = utcnow_column()


class Category(TenantBase):
    __tablename__ = "categories"
    __table_args__ = (CheckConstraint("default_priority BETWEEN 1 AND 4", name="priority"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    default_priority: Mapped[int] = mapped_column(SmallInteger, default=2)
    sort_order: Mapped[int] = mapped_column(SmallInteger, default=100)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CategoryOpd(TenantBase):
    """Which agencies must respond to a category (fire → Damkar + BPBD)."""

    __tablename__ = "category_opds"

    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    opd_id: Mapped[int] = mapped_column(ForeignKey("opds.id", ondelete="CASCADE"), primary_key=True)


class Dispatch(TenantBase):
    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint(f"status IN {DISPATCH_STATUSES}", name="status"),
        Index("ix_dispatches_opd_open", "opd_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    opd_id: Mapped[int] = mapped_column(ForeignKey("opds.id"))
    status: Mapped[str] = mapped_column(String(16), default="sent")
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime] = utcnow_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    en_route_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    on_scene_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: a click on a stale card must not overwrite a newer state.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = utcnow_column()
