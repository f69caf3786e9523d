"""API tokens and OpenID Connect provider settings, per tenant and for the ministry.

Only a SHA-256 of each token is kept (tokens are 256-bit random, so a fast hash is enough);
the plain value is shown once at creation. OIDC client secrets are stored encrypted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import PublicBase, TenantBase, utcnow_column


class _TokenColumns:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # service | personal
    # Public part of the token (s112_<lookup>_<secret>): an indexed lookup without timing leaks on the secret.
    lookup: Mapped[str] = mapped_column(String(24), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = utcnow_column()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_ip: Mapped[str | None] = mapped_column(String(45))


class ApiToken(_TokenColumns, TenantBase):
    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('service', 'personal')", name="kind"),
        CheckConstraint("(kind = 'personal') = (user_id IS NOT NULL)", name="personal_has_user"),
        CheckConstraint("kind = 'service' OR opd_id IS NULL", name="opd_only_service"),
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A service token bound to one agency (an OPD's dispatch system) sees and changes only that
    # agency's dispatches; a personal token has its owner's OPD instead (app.auth.tokens).
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opds.id"))


class PlatformApiToken(_TokenColumns, PublicBase):
    __tablename__ = "platform_api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('service', 'personal')", name="kind"),
        CheckConstraint("(kind = 'personal') = (user_id IS NOT NULL)", name="personal_has_user"),
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("platform_users.id"), index=True)


class _OidcColumns:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret_enc: Mapped[str] = mapped_column(String(1000))
    label: Mapped[str] = mapped_column(String(80), default="SSO")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = utcnow_column()
    updated_by: Mapped[int | None] = mapped_column(Integer)


class OidcProvider(_OidcColumns, TenantBase):
    """The regency's own identity provider; the app keeps a single row (the lowest id)."""

    __tablename__ = "oidc_provider"


class PlatformOidcProvider(_OidcColumns, PublicBase):
    """The national identity provider for Kominfo/Komdigi staff."""

    __tablename__ = "platform_oidc_provider"
