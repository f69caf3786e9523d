"""arq jobs: send one outbox message; the reconciliation cron that makes Redis disposable."""

from __future__ import annotations

import logging

from arq.cron import cron
from arq.worker import func

from app.channels import outbox, summary
from app.config import get_settings
from app.core import clock
from app.db import uow
from app.tenancy.registry import active_tenants

log = logging.getLogger(__name__)


async def send_channel_message(ctx: dict, tenant: str, message_id: int) -> str:
    async with ctx["db"].tenant(tenant) as session:
        return await outbox.send_one(session, tenant, message_id)


async def channels_reconcile(ctx: dict) -> dict[str, int]:
    totals = {"tenants": 0, "queued": 0, "abandoned": 0}
    for tenant in await active_tenants(ctx["db"]):
        slug = tenant.slug
        try:
            stats = await outbox.reconcile_tenant(ctx["db"], slug)
        except Exception:  # one broken tenant must not stop the others' alerts
            log.exception("outbox reconciliation failed for tenant %s", slug)
            continue
        totals["tenants"] += 1
        for k, v in stats.items():
            totals[k] += v
    return totals


async def channels_summaries(ctx: dict, end_iso: str | None = None) -> dict[str, int]:
    """Queue each tenant's summary e-mails for the period ending at this hour (idempotent)."""
    from datetime import datetime, timedelta

    end = (
        datetime.fromisoformat(end_iso) if end_iso else clock.now().replace(minute=0, second=0, microsecond=0)
    )
    start = end - timedelta(hours=get_settings().channel_summary_period_h)
    totals = {"tenants": 0, "queued": 0}
    for tenant in await active_tenants(ctx["db"]):
        slug = tenant.slug
        try:
            async with ctx["db"].tenant(slug) as session:
                ids = await summary.queue_summaries(session, slug, start, end)
                await uow.commit(session)
        except Exception:  # one broken tenant must not stop the others' summaries
            log.exception("summary e-mail failed for tenant %s", slug)
            continue
        totals["tenants"] += 1
        totals["queued"] += len(ids)
    return totals


FUNCTIONS = [
    # Retries are new jobs with their own id (outbox.record_result); arq must not re-run a send.
    func(send_channel_message, name="send_channel_message", max_tries=1, timeout=45),
    func(channels_reconcile, name="channels_reconcile"),
    func(channels_summaries, name="channels_summaries"),
]
CRON_JOBS = [
    cron(
        channels_reconcile,
        name="cron:channels_reconcile",
        second={15, 45},
        run_at_startup=True,
        unique=True,
        timeout=120,
    ),
    cron(
        channels_summaries,
        name="cron:channels_summaries",
        hour={get_settings().channel_summary_hour_utc},
        minute={0},
        second={30},
        unique=True,
        timeout=300,
    ),
]
