"""The national rollups' jobs: the fold of intake deltas (every 5 s) and the nightly recount.

The recount is the reference definition of every figure: it repairs increments lost to a
crash or a handler bug. Per-tenant jobs (with a per-night job id) keep one slow regency from
delaying the others and make a re-run of the cron harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime

from arq import cron

from app.jobs import enqueue
from app.national.rollup import fold, rebuild_tenant, tenant_slugs


async def national_rebuild_tenant(ctx: dict, tenant_slug: str) -> int:
    return await rebuild_tenant(ctx["db"], tenant_slug)


async def national_nightly(ctx: dict) -> int:
    night = datetime.now(UTC).strftime("%Y%m%d")
    slugs = await tenant_slugs(ctx["db"])
    for slug in slugs:
        await enqueue("national_rebuild_tenant", slug, _job_id=f"national-rebuild:{slug}:{night}")
    return len(slugs)


async def national_fold(ctx: dict) -> int:
    """Deltas appended by intake become dashboard figures within a few seconds."""
    return await fold(ctx["db"], wait=False)


FUNCTIONS = [national_rebuild_tenant, national_nightly, national_fold]
# 19:40 UTC = 02:40 WIB / 03:40 WITA / 04:40 WIT: the quietest hour in every time zone.
CRON_JOBS = [
    cron(national_nightly, hour={19}, minute={40}, unique=True),
    cron(national_fold, second=set(range(0, 60, 5)), unique=True, timeout=60),
]
