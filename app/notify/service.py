"""Writing notifications and queueing webhook deliveries, inside the caller's transaction.

Both are keyed by a ``dedupe_key`` (INSERT … ON CONFLICT DO NOTHING), so retried jobs and
replayed reconciliation never notify twice. Webhook delivery is queued after commit; a delivery
row left ``pending`` (Redis flushed, worker killed) is re-queued by the SLA reconciliation cron.
"""

from __future__ import annotations

import json

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import jobs
from app.core.clock import now
from app.db.direct import Direct
from app.dispatch.models import Opd
from app.events import after_commit
from app.notify.models import Notification, WebhookDelivery


def _insert_once(table):
    """``INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id``, compiled once per tenant
    schema (``Direct``): SQLAlchemy never caches the PostgreSQL INSERT construct, so through
    ``session.execute`` each breach compiled its notifications again (11 % of the SLA worker's
    CPU when 1,000 timers fell due; tests/contracts/test_sqlalchemy_contract.py)."""
    return Direct(
        lambda: insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    )


_ADD_NOTIFICATION = _insert_once(Notification.__table__)
_QUEUE_WEBHOOK = _insert_once(WebhookDelivery.__table__)


async def add_notification(
    session: AsyncSession,
    *,
    audience: str,
    kind: str,
    title: str,
    dedupe_key: str,
    opd_id: int | None = None,
    level: int = 0,
    body: str | None = None,
    link: str | None = None,
    data: dict | None = None,
) -> int | None:
    """Returns the new id, or None when this notification already exists."""
    row = await _ADD_NOTIFICATION.first(
        session,
        {
            "audience": audience,
            "opd_id": opd_id if audience == "opd" else None,
            "kind": kind,
            "level": level,
            "title": title,
            "body": body,
            "link": link,
            "data": data or {},
            "dedupe_key": dedupe_key,
        },
    )
    return row.id if row is not None else None


def delivery_job_id(tenant_slug: str, delivery_id: int) -> str:
    return f"webhook:{tenant_slug}:{delivery_id}"


async def enqueue_delivery(tenant_slug: str, delivery_id: int) -> None:
    await jobs.enqueue(
        "deliver_webhook", tenant_slug, delivery_id, _job_id=delivery_job_id(tenant_slug, delivery_id)
    )


async def queue_webhook(
    session: AsyncSession, tenant_slug: str, opd: Opd, event: str, payload: dict, dedupe_key: str
) -> int | None:
    """Record a delivery for an OPD that has a webhook URL; it is sent after the commit."""
    if not opd.webhook_url or not opd.webhook_secret:
        return None
    row = await _QUEUE_WEBHOOK.first(
        session,
        {
            "opd_id": opd.id,
            "event": event,
            "payload": json.loads(json.dumps(payload, default=str)),
            "dedupe_key": dedupe_key,
            "status": "pending",
            "attempts": 0,
        },
    )
    delivery_id = row.id if row is not None else None
    if delivery_id is not None:
        after_commit(session, lambda: enqueue_delivery(tenant_slug, delivery_id))
    return delivery_id


def visible_filter(role: str, opd_id: int | None):
    """Which notifications a user sees: supervisors/admins the tenant's, OPD staff their OPD's."""
    if role in ("supervisor", "admin"):
        return or_(Notification.audience == "supervisors", Notification.audience == "opd")
    if role == "opd_staff" and opd_id is not None:
        return (Notification.audience == "opd") & (Notification.opd_id == opd_id)
    return Notification.id.is_(None)


async def list_notifications(
    session: AsyncSession, role: str, opd_id: int | None, limit: int = 50, unread_only: bool = False
) -> list[Notification]:
    stmt = select(Notification).where(visible_filter(role, opd_id))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list((await session.execute(stmt.order_by(Notification.id.desc()).limit(limit))).scalars())


async def mark_read(
    session: AsyncSession, notification_id: int, user_id: int, role: str, opd_id: int | None
) -> bool:
    result = await session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id, visible_filter(role, opd_id), Notification.read_at.is_(None)
        )
        .values(read_at=now(), read_by=user_id)
        .returning(Notification.id)
    )
    return result.scalar_one_or_none() is not None
