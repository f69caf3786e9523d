"""Retention: every hour, each active regency's recordings past their deletion date are deleted
(object first, then the row is marked), in batches, audited as ``recording.deleted``."""

from __future__ import annotations

import logging

from arq.cron import cron

from app.recordings.service import purge_expired
from app.recordings.store import get_store
from app.tenancy.registry import active_tenants

log = logging.getLogger(__name__)


async def recordings_purge(ctx: dict) -> int:
    store, total = get_store(), 0
    for tenant in await active_tenants(ctx["db"]):
        slug = tenant.slug
        try:
            async with ctx["db"].tenant(slug) as session:
                total += await purge_expired(session, store, slug)
        except Exception:  # one tenant's storage problem must not stop the others
            log.exception("recording purge failed for %s", slug)
    return total


FUNCTIONS = [recordings_purge]
CRON_JOBS = [cron(recordings_purge, minute={17}, unique=True, timeout=600)]
