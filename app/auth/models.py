"""People who log in: regency staff live in their tenant schema, ministry staff in public."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import PublicBase, TenantBase, utcnow_column

TENANT_ROLES = ("admin", "supervisor", "operator", "opd_staff")
PLATFORM_ROLES = ("kominfo", "platform_admin")


class User(TenantBase):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {TENANT_ROLES}", name="role"),
        CheckConstraint("(role = 'opd_staff') = (opd_id IS NOT NULL)", name="opd_staff_has_opd"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by "log out everywhere" and password resets; sessions carry the value they saw.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = utcnow_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlatformUser(PublicBase):
    __tablename__ = "platform_users"
    __table_args__ = (CheckConstraint(f"role IN {PLATFORM_ROLES}", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = utcnow_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
