"""A regency's application to join: filled in over several wizard steps, then reviewed by Kominfo.

Lives in public because it exists before the tenant does; after submission it points at the
(pending) tenant and keeps the legal-basis document and the review conversation.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import PublicBase, utcnow_column

APPLICATION_STATUSES = ("draft", "submitted", "sent_back", "verified")


class SignupApplication(PublicBase):
    __tablename__ = "signup_applications"
    __table_args__ = (
        CheckConstraint(f"status IN {APPLICATION_STATUSES}", name="status"),
        # One live (non-draft) application per regency; drafts may race, the first submit wins.
        Index(
            "uq_signup_applications_region_live",
            "region_code",
            unique=True,
            postgresql_where="status <> 'draft'",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of the resume token kept in the applicant's session cookie (never the token itself).
    resume_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    step: Mapped[int] = mapped_column(Integer, default=1)  # furthest step reached
    region_code: Mapped[str | None] = mapped_column(String(5))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_nip: Mapped[str | None] = mapped_column(String(18))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    legal_number: Mapped[str | None] = mapped_column(String(120))
    legal_date: Mapped[date | None] = mapped_column(Date)
    document_path: Mapped[str | None] = mapped_column(String(100))  # random name under upload_dir
    document_size: Mapped[int | None] = mapped_column(Integer)
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    opds: Mapped[dict | None] = mapped_column(JSONB)  # {"codes": [...], "custom": [...]}
    admin_name: Mapped[str | None] = mapped_column(String(200))
    admin_email: Mapped[str | None] = mapped_column(String(254))
    # Held only between the admin step and submission; cleared once the user exists.
    admin_password_hash: Mapped[str | None] = mapped_column(String(255))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(254))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column()
