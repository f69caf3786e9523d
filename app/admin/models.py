"""Tenant tables owned by the admin pages: one-time account links and the address areas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import TenantBase, utcnow_column

ACCOUNT_LINK_PURPOSES = ("invite", "reset")


class AccountLink(TenantBase):
    """A one-time link that lets a person set their password (invitation or reset).

    Only the sha256 of the token is stored, so a database leak yields no usable links.
    """

    __tablename__ = "account_links"
    __table_args__ = (CheckConstraint(f"purpose IN {ACCOUNT_LINK_PURPOSES}", name="purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = utcnow_column()


class Kecamatan(TenantBase):
    __tablename__ = "kecamatan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class Kelurahan(TenantBase):
    """Kelurahan/desa, added by the admin (the official list is too large to ship)."""

    __tablename__ = "kelurahan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kecamatan_id: Mapped[int] = mapped_column(ForeignKey("kecamatan.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # "<kecamatan_id>/<lower-case name>": one name per kecamatan, case-insensitively, as a single
    # unique column (composite keys would break the isolation suite's row-copy check).
    key: Mapped[str] = mapped_column(String(140), unique=True)


def kelurahan_key(kecamatan_id: int, name: str) -> str:
    return f"{kecamatan_id}/{name.strip().lower()}"
