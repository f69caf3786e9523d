"""Outgoing webhook delivery: signed POST to the OPD's URL, retried with exponential backoff.

The delivery row is the source of truth (pending/delivered/failed, attempts, last error): a job
that runs twice sends at most one extra copy and the receiver de-duplicates on the delivery id
header. arq's ``Retry`` carries the backoff; after MAX_TRIES the row is marked failed.
"""

from __future__ import annotations

import json
import logging
import time

import httpx
from arq import Retry
from arq.worker import func
from sqlalchemy import select

from app.config import get_settings
from app.core.clock import now
from app.core.networks import parse_networks
from app.db import uow
from app.dispatch.models import Opd
from app.notify.models import WebhookDelivery
from app.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from app.security import outbound

log = logging.getLogger(__name__)

MAX_TRIES = 8
BACKOFF_BASE_S = 2.0  # 2, 4, 8 … seconds; tests lower it
BACKOFF_MAX_S = 600.0
TIMEOUT_S = 10.0


def outbound_allow(ctx: dict) -> tuple:
    """Networks the deployment lets webhooks reach although not public (OUTBOUND_ALLOW_NETWORKS)."""
    settings = ctx.get("settings") or get_settings()
    return parse_networks(settings.outbound_allow_networks)


def backoff(job_try: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2 ** (job_try - 1)))


async def deliver_webhook(ctx: dict, tenant_slug: str, delivery_id: int) -> str:
    async with ctx["db"].tenant(tenant_slug) as session:
        row = (
            await session.execute(
                select(WebhookDelivery, Opd)
                .join(Opd, Opd.id == WebhookDelivery.opd_id)
                .where(WebhookDelivery.id == delivery_id)
                .with_for_update(of=WebhookDelivery)
            )
        ).first()
        if row is None:
            return "missing"
        delivery, opd = row
        if delivery.status != "pending":
            return delivery.status
        if not opd.webhook_url or not opd.webhook_secret:
            delivery.status, delivery.last_error = "failed", "OPD has no webhook URL/secret"
            await uow.commit(session)
            return "failed"
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "user-agent": "Siaga112-Webhook/1",
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(opd.webhook_secret, ts, body),
            "X-Siaga112-Event": delivery.event,
            "X-Siaga112-Delivery": f"{tenant_slug}:{delivery.id}",
        }
        delivery.attempts += 1
        delivery.last_attempt_at = now()
        try:
            # Resolved and checked now (DNS may have changed since the URL was saved), sent to
            # the checked address, no redirects: app.security.outbound.
            resp = await outbound.post(
                opd.webhook_url,
                content=body,
                headers=headers,
                timeout_s=TIMEOUT_S,
                allow=outbound_allow(ctx),
            )
            delivery.last_status_code = resp.status_code
            ok = 200 <= resp.status_code < 300
            delivery.last_error = None if ok else f"HTTP {resp.status_code}"
        except outbound.OutboundRefused as exc:
            # Not retried: the target stays refused until an admin fixes the URL.
            ok = False
            delivery.last_status_code = None
            delivery.last_error = f"refused: {exc}"[:500]
            delivery.status = "failed"
            await uow.commit(session)
            log.warning("webhook %s:%s refused: %s", tenant_slug, delivery.id, exc)
            return "refused"
        except httpx.HTTPError as exc:
            ok = False
            delivery.last_status_code = None
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
        job_try = ctx.get("job_try", 1)
        if ok:
            delivery.status, delivery.delivered_at = "delivered", now()
        elif job_try >= MAX_TRIES:
            delivery.status = "failed"
        await uow.commit(session)
    if not ok and job_try < MAX_TRIES:
        raise Retry(defer=backoff(job_try))
    return "delivered" if ok else "failed"


FUNCTIONS = [func(deliver_webhook, name="deliver_webhook", max_tries=MAX_TRIES)]
CRON_JOBS: list = []
