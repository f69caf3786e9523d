"""The tenant registry: one row per kabupaten/kota in the shared public schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.tenant import TIMEZONES
from app.db.base import PublicBase, utcnow_column
from app.db.tenancy import schema_for

TENANT_STATUSES = ("pending", "verified", "active", "suspended")


class Tenant(PublicBase):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"status IN {TENANT_STATUSES}", name="status"),
        CheckConstraint("timezone IN ('WIB', 'WITA', 'WIT')", name="timezone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(47), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(5), unique=True)  # Kemendagri, e.g. "13.72"
    province: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    timezone: Mapped[str] = mapped_column(String(4), default="WIB")
    created_at: Mapped[datetime] = utcnow_column()
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The map's home view (app/tenancy/mapview.py): where the console map opens. NULL: the
    # province's extent. Tiles: NULL means the deployment's MAP_TILES_URL.
    map_lat: Mapped[float | None] = mapped_column(Float)
    map_lon: Mapped[float | None] = mapped_column(Float)
    map_zoom: Mapped[int | None] = mapped_column(SmallInteger)
    map_tiles_url: Mapped[str | None] = mapped_column(String(300))
    map_tiles_attribution: Mapped[str | None] = mapped_column(String(300))

    @property
    def schema(self) -> str:
        return schema_for(self.slug)

    @property
    def zoneinfo_name(self) -> str:
        return TIMEZONES[self.timezone]
