"""Looking up a tenant by slug on every request, from a short-lived in-process cache.

The cache is per process and expires after a few seconds, so a suspension reaches every app
process quickly without a registry query on each call intake.

When an entry expires, ONE lookup refreshes it and the requests arriving meanwhile wait for that
one: before, each of them ran its own query on its own pool connection, so every few seconds a
busy process emptied its pool at once and its intake flushes queued behind the lookups (the
paced benchmark's periodic stalls: the pool's high-water mark was its capacity).
"""

from __future__ import annotations

import asyncio
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
        self._loading: dict[str, asyncio.Future] = {}

    async def get(self, slug: str) -> TenantInfo | None:
        hit = self._cache.get(slug)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        loading = self._loading.get(slug)
        if loading is None:
            loading = self._loading[slug] = asyncio.ensure_future(self._load(slug))
            loading.add_done_callback(
                lambda f: self._loading.pop(slug) if self._loading.get(slug) is f else None
            )
        # Shielded: a caller that goes away does not cancel the lookup the others wait for.
        return await asyncio.shield(loading)

    async def _load(self, slug: str) -> TenantInfo | None:
        now = time.monotonic()
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Tenant.__table__).where(Tenant.slug == slug))).mappings().first()
        info = tenant_info(row) if row is not None else None
        self._cache[slug] = (now + self.ttl, info)
        if len(self._cache) > 4096:
            self._cache.clear()
        return info

    def forget(self, slug: str) -> None:
        self._cache.pop(slug, None)
        self._loading.pop(slug, None)  # a lookup under way may predate the change


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
