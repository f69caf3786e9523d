"""Retention of the national caller reputation: rows older than REPUTATION_RETENTION_DAYS go, daily."""

from __future__ import annotations

from arq.cron import cron

from app.reputation.service import purge_expired


async def reputation_purge(ctx: dict) -> int:
    async with ctx["db"].public() as session:
        return await purge_expired(session)


FUNCTIONS = [reputation_purge]
CRON_JOBS = [cron(reputation_purge, hour={19}, minute={30}, run_at_startup=False)]  # 02:30 WIB
