"""Recompute one regency's reputation rows from its own calls under the CURRENT key.

This is how a key is rotated (docs/reputation.md): put the new key first in NATIONAL_HASH_KEYS
(the old one after it: lookups still match both), deploy, run ``siaga112 reputation rebuild``
(every row is re-hashed from the calls within the retention window), then drop the old key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from app.calls.models import Call
from app.config import get_settings
from app.db import uow
from app.national.rollup import _day
from app.reputation import service
from app.reputation.models import caller_reputation as rep
from app.tenancy.registry import known_tenant


async def rebuild_tenant(db, slug: str) -> int:
    """One transaction: the regency's rows deleted (every key) and written again; the row count."""
    cutoff = datetime.now(UTC) - timedelta(days=get_settings().reputation_retention_days)
    async with db.tenant(slug) as session:
        tenant = await known_tenant(session, slug)
        day = _day(Call.received_at, tenant.zoneinfo_name)
        counted = [o for o, b in service.BUCKET.items() if b]
        rows = (
            await session.execute(
                select(Call.caller_number, day, Call.outcome, func.count())
                .where(Call.received_at >= cutoff, Call.outcome.in_(counted))
                .group_by(Call.caller_number, day, Call.outcome)
            )
        ).all()
        await session.execute(delete(rep).where(rep.c.tenant_id == tenant.id))
        await service.add(session, tenant.id, [(n, d, {service.BUCKET[o]: c}) for n, d, o, c in rows])
        await uow.commit(session)
        return len(rows)
