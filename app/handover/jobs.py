"""arq jobs of the hand-over: delivery to the receiver and the decision back, both retried.

A receiver that cannot be written (its inbox locked by a migration, its database node down)
makes ``deliver`` raise; the job is retried with back-off (arq ``Retry``) up to MAX_TRIES while
the outbox row stays 'pending' with the attempt count and last error (the sender sees them).
``handover_reconcile`` re-queues pending rows every minute, so a lost Redis job is not lost work.
"""

from __future__ import annotations

import logging

from arq import Retry
from arq.cron import cron
from arq.worker import func
from sqlalchemy import select

from app.handover import service
from app.handover.models import HandoverInbox, HandoverOutbox
from app.jobs import enqueue
from app.tenancy.registry import active_tenants

log = logging.getLogger(__name__)
MAX_TRIES = 20


def _backoff(tries: int) -> float:
    return min(60.0, 0.5 * 2 ** max(0, tries - 1))


async def handover_deliver(ctx: dict, sender_slug: str, transfer_id: str) -> str:
    try:
        return await service.deliver(ctx["db"], sender_slug, transfer_id, ctx.get("redis"))
    except Exception as exc:  # receiver unreachable: keep the row pending, try again
        tries = ctx.get("job_try", 1)
        await service.note_failure(ctx["db"], sender_slug, transfer_id, f"{type(exc).__name__}: {exc}")
        log.warning("hand-over %s not delivered (try %d): %s", transfer_id, tries, exc)
        raise Retry(defer=_backoff(tries)) from exc


async def handover_report(ctx: dict, receiver_slug: str, transfer_id: str) -> str:
    try:
        return await service.report(ctx["db"], receiver_slug, transfer_id, ctx.get("redis"))
    except Exception as exc:
        tries = ctx.get("job_try", 1)
        log.warning("hand-over %s decision not reported (try %d): %s", transfer_id, tries, exc)
        raise Retry(defer=_backoff(tries)) from exc


async def handover_reconcile(ctx: dict) -> int:
    """Re-queue the delivery of every pending outbox row and the report of every unreported decision."""
    queued = 0
    for tenant in await active_tenants(ctx["db"]):
        slug = tenant.slug
        async with ctx["db"].tenant(slug) as s:
            pending = list(
                (
                    await s.execute(
                        select(HandoverOutbox.transfer_id).where(HandoverOutbox.status == "pending")
                    )
                ).scalars()
            )
            unreported = list(
                (
                    await s.execute(
                        select(HandoverInbox.transfer_id).where(
                            HandoverInbox.status != "ringing",
                            HandoverInbox.source == "regency",
                            HandoverInbox.reported_at.is_(None),
                        )
                    )
                ).scalars()
            )
        for tid in pending:
            queued += bool(
                await enqueue(service.DELIVER_JOB, slug, str(tid), _job_id=f"{service.DELIVER_JOB}:{tid}")
            )
        for tid in unreported:
            queued += bool(
                await enqueue(service.REPORT_JOB, slug, str(tid), _job_id=f"{service.REPORT_JOB}:{tid}")
            )
    return queued


FUNCTIONS = [
    func(handover_deliver, max_tries=MAX_TRIES),
    func(handover_report, max_tries=MAX_TRIES),
    handover_reconcile,
]
CRON_JOBS = [cron(handover_reconcile, second={7}, run_at_startup=False)]
