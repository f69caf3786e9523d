"""Looking up a tenant by slug on every request, from a short-lived in-process cache.

The cache is per process and expires after a few seconds, so a suspension reaches every app
process quickly without a registry query on each call intake.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.tenancy.models import TIMEZONES, Tenant


@dataclass(frozen=True)
class TenantInfo:
    id: int
    slug: str
    name: str
    region_code: str
    province: str
    status: str
    timezone: str
    activated_at: datetime | None

    @property
    def zoneinfo_name(self) -> str:
        return TIMEZONES[self.timezone]


class TenantRegistry:
    def __init__(self, engine: AsyncEngine, ttl_s: float = 5.0):
        self.engine = engine
        self.ttl = ttl_s
        self._cache: dict[str, tuple[float, TenantInfo | None]] = {}

    async def get(self, slug: str) -> TenantInfo | None:
        now = time.monotonic()
        hit = self._cache.get(slug)
        if hit and hit[0] > now:
            return hit[1]
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Tenant.__table__).where(Tenant.slug == slug))).mappings().first()
        info = tenant_info(row) if row is not None else None
        self._cache[slug] = (now + self.ttl, info)
        if len(self._cache) > 4096:
            self._cache.clear()
        return info

    def forget(self, slug: str) -> None:
        self._cache.pop(slug, None)


def tenant_info(m) -> TenantInfo:
    """A registry row (a mapping of public.tenants' columns) as the read-only TenantInfo."""
    return TenantInfo(
        id=m["id"],
        slug=m["slug"],
        name=m["name"],
        region_code=m["region_code"],
        province=m["province"],
        status=m["status"],
        timezone=m["timezone"],
        activated_at=m["activated_at"],
    )
