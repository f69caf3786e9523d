"""The tenant as a value: what every layer below the request knows of the regency it works for.

The request dependency (app.web.deps) takes it from the registry's cache; the unit of work,
services (``Ctx.tenant``), domain events and jobs carry it on, so no layer looks the slug up
again (its id, time zone and region code are here). The slug stays the key for what is named
after it: the schema, Redis channels, job payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

# The three Indonesian time zones a regency is in (public.tenants.timezone).
TIMEZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}


@dataclass(frozen=True)
class TenantInfo:
    id: int
    slug: str
    name: str
    region_code: str
    province: str
    status: str
    timezone: str
    activated_at: datetime | None = None

    @property
    def zoneinfo_name(self) -> str:
        return TIMEZONES[self.timezone]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zoneinfo_name)  # ZoneInfo keeps one instance per key
