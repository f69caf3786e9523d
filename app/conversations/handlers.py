"""Text-to-112 on the channels' ONE WhatsApp webhook (``/api/v1/t/<slug>/channels/whatsapp/webhook``).

A WhatsApp Business app has one callback URL, so ``app.channels.api`` verifies the signature
(the regency's app secret) once and ``app.channels.inbound.handle`` routes each item: statuses of
alerts and button replies stay in the channels domain; a message that is not a reply to an alert
arrives here as ``channel.message_received`` and a status of a message that is not an alert as
``channel.status_received``. Both are applied in the webhook's own transaction (it commits).
"""

from __future__ import annotations

import re

from app import live
from app.calls.service import Ctx
from app.channels.base import Inbound
from app.conversations import service
from app.core.clock import now
from app.core.tenant import TenantInfo
from app.events import DomainEvent, subscribe
from app.location.service import add_whatsapp_fix
from app.telephony.service import INTEGRATOR

_DIGITS = re.compile(r"^\+[0-9]{6,15}$")


def _ctx(session, tenant: TenantInfo) -> Ctx:
    return Ctx(session=session, tenant=tenant, actor=INTEGRATOR)


def message_body(raw: dict) -> str:
    """What the operator sees for one WhatsApp message (media is not downloaded)."""
    kind = str(raw.get("type") or "")
    if kind == "text":
        return str((raw.get("text") or {}).get("body") or "")[:4096]
    loc = raw.get("location") or {}
    if kind == "location" and isinstance(loc.get("latitude"), int | float):
        label = loc.get("name") or loc.get("address")
        where = f" ({label})" if label else ""
        return f"[lokasi dibagikan] {loc['latitude']:.6f}, {loc.get('longitude', 0):.6f}{where}"
    return f"[{kind or 'pesan'}: jenis pesan ini belum dapat ditampilkan — minta penelepon mengetik teks]"


def shared_location(raw: dict) -> tuple[float, float] | None:
    """(lat, lon) of a WhatsApp ``type: location`` message, None for anything else."""
    loc = raw.get("location") or {}
    lat, lon = loc.get("latitude"), loc.get("longitude")
    if raw.get("type") != "location":
        return None
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    return float(lat), float(lon)


@subscribe("channel.message_received")
async def on_message(session, event: DomainEvent) -> None:
    item: Inbound = event.inbound
    if item.channel != "whatsapp" or not item.event_id or not _DIGITS.match(item.sender or ""):
        return  # Telegram chats are agencies', not citizens'; a sender without a number cannot be answered
    body = message_body(item.raw)
    if not body:
        return
    ctx = _ctx(session, event.tenant)
    msg, call, topics = await service.store_inbound(
        ctx, "whatsapp", item.sender or "", body, item.event_id, item.at or now()
    )
    position = shared_location(item.raw)
    if msg is not None and call is not None and position is not None:
        # the person shared where they are: a fix of the call, on the console map like AML's
        if await add_whatsapp_fix(ctx, call, *position, item.at or now(), item.event_id):
            topics = [*topics, "location"]
    for topic in topics:
        live.notify_after_commit(session, None, event.slug, topic)


@subscribe("channel.status_received")
async def on_status(session, event: DomainEvent) -> None:
    item: Inbound = event.inbound
    if item.channel != "whatsapp" or not item.provider_id or not item.status:
        return
    await service.store_status(_ctx(session, event.tenant), item.provider_id, item.status, item.error)
