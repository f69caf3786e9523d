"""What provider webhooks change: delivery states, button/reply acknowledgements.

``handle(session, tenant, channel, items)`` applies parsed ``Inbound`` items in one transaction.
Each item's provider event id is recorded in ``channel_webhook_events`` first; an id already
there is a replay and changes nothing (a body whose every item is a replay is refused, 409).
Messages that are not replies to our alerts are handed on as a ``channel.message_received``
domain event (payload ``inbound=Inbound``), and statuses of messages that are not alerts as
``channel.status_received``, in the same transaction, for text-to-112.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.audit.service import record
from app.calls.service import Ctx
from app.channels import ack
from app.channels.base import Inbound
from app.channels.models import ChannelMessage, ChannelWebhookEvent
from app.channels.outbox import STATUS_RANK, fall_back
from app.channels.registry import ADAPTERS
from app.core import clock
from app.core.errors import ConflictError
from app.core.origin import Origin
from app.core.principal import Principal
from app.core.tenant import TenantInfo
from app.db import uow
from app.dispatch.models import Dispatch
from app.dispatch.schemas import DispatchTransition
from app.dispatch.service import transition

ACK_WORDS = {"terima", "diterima", "ok", "oke", "siap", "1", "ya"}


@dataclass
class Handled:
    applied: int = 0
    replays: int = 0
    acknowledged: list[int] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)  # (callback id, text) for Telegram


async def _first_time(session: AsyncSession, channel: str, event_id: str | None) -> bool:
    if not event_id:
        return True
    got = (
        await session.execute(
            insert(ChannelWebhookEvent)
            .values(channel=channel, event_id=event_id[:200])
            .on_conflict_do_nothing()
            .returning(ChannelWebhookEvent.event_id)
        )
    ).scalar_one_or_none()
    return got is not None


async def apply_status(session: AsyncSession, tenant: str, item: Inbound) -> bool:
    if not item.provider_id or item.status not in ("sent", "delivered", "read", "failed"):
        return False
    at = item.at or clock.now()
    row = (
        await session.execute(
            select(ChannelMessage)
            .where(ChannelMessage.channel == item.channel, ChannelMessage.provider_id == item.provider_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    if item.status == "failed":
        if row.status in ("sent", "delivered"):
            row.status, row.failed_at, row.last_error = "failed", at, (item.error or "ditolak penyedia")[:300]
            await session.flush()
            await fall_back(session, tenant, row)
        return True
    if item.status == "delivered":
        row.delivered_at = row.delivered_at or at
    if item.status == "read":
        row.read_at = row.read_at or at
        row.delivered_at = row.delivered_at or at
    if STATUS_RANK.get(item.status, 0) > STATUS_RANK.get(row.status, 0) and row.status in STATUS_RANK:
        row.status = item.status
    return True


async def acknowledge(
    session: AsyncSession, tenant: TenantInfo, row: ChannelMessage, via: str, origin: Origin | None = None
) -> str:
    """Acknowledge the dispatch of ``row`` as its recipient: 'acknowledged' | 'already' | 'used'.

    Runs the dispatch workflow's own transition (audit, SLA clocks, live notice) with the
    recipient as actor, and marks the token used in the same transaction (it commits).
    """
    if row.ack_used_at is not None:
        return "used"
    d = await session.get(Dispatch, row.dispatch_id) if row.dispatch_id else None
    if d is None:
        return "used"
    row.ack_used_at, row.ack_via = clock.now(), via
    if d.status != "sent":
        await uow.commit(session)
        return "already"
    actor = Principal(
        kind="tenant",
        user_id=None,
        role="opd_staff",
        name=f"{row.recipient} via {via}",
        tenant_slug=tenant.slug,
        opd_id=d.opd_id,
    )
    await record(
        session,
        "channels.acknowledged",
        actor_label=actor.label,
        origin=origin,
        entity="dispatch",
        entity_id=d.id,
        after={"message_id": row.id, "channel": row.channel, "via": via, "recipient": row.recipient},
    )
    try:
        await transition(
            Ctx(session, tenant, actor, origin=origin), d.id, DispatchTransition(status="acknowledged")
        )
    except ConflictError:
        await session.rollback()
        return "already"
    # The others alerted for this dispatch need not be alerted any more.
    await session.execute(
        update(ChannelMessage)
        .where(
            ChannelMessage.dispatch_id == d.id,
            ChannelMessage.status == "pending",
            ChannelMessage.kind == "dispatch",
        )
        .values(status="cancelled", last_error="penugasan sudah diterima")
    )
    await uow.commit(session)
    return "acknowledged"


async def _message_for_button(session: AsyncSession, tenant: str, item: Inbound) -> ChannelMessage | None:
    """The outbox row a button/reply refers to, if the sender is its recipient."""
    row = None
    parsed = ack.parse_callback(item.callback)
    if parsed is not None:
        mid, mac = parsed
        row = await session.get(ChannelMessage, mid, with_for_update=True)
        if row is None or not ack.check_callback(tenant, mid, row.dispatch_id, mac):
            return None
    elif item.provider_id:
        row = (
            await session.execute(
                select(ChannelMessage)
                .where(ChannelMessage.channel == item.channel, ChannelMessage.provider_id == item.provider_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
    if row is None or row.channel != item.channel:
        return None
    if not _same_address(item.channel, row.address, item.sender or ""):
        return None  # someone else pressing a forwarded button
    return row


def _same_address(channel: str, a: str, b: str) -> bool:
    try:
        norm = ADAPTERS[channel].normalise_address
        return norm(a) == norm(b if channel != "whatsapp" else "+" + b.lstrip("+"))
    except ValueError:
        return a == b


async def handle(session: AsyncSession, tenant: TenantInfo, channel: str, items: list[Inbound]) -> Handled:
    out = Handled()
    for item in items:
        if not await _first_time(session, channel, item.event_id):
            out.replays += 1
            continue
        if item.kind == "status":
            if not await apply_status(session, tenant.slug, item):
                # not an alert of ours: e.g. a text-to-112 reply (app/conversations/handlers.py)
                await events.emit(session, "channel.status_received", tenant, inbound=item)
            out.applied += 1
            continue
        is_ack_reply = item.kind == "button" or (
            item.provider_id is not None and (item.text or "").strip().lower() in ACK_WORDS
        )
        if is_ack_reply:
            row = await _message_for_button(session, tenant.slug, item)
            if row is not None and row.dispatch_id is not None:
                result = await acknowledge(session, tenant, row, via=f"{channel}-button")
                out.applied += 1
                if result == "acknowledged":
                    out.acknowledged.append(row.dispatch_id)
                text = {"acknowledged": "Diterima. Terima kasih.", "already": "Sudah ditanggapi sebelumnya."}
                if item.raw.get("id") and channel == "telegram":
                    out.answers.append((str(item.raw["id"]), text.get(result, "Tautan sudah dipakai.")))
                continue
            if item.kind == "button":
                if channel == "telegram" and item.raw.get("id"):
                    out.answers.append((str(item.raw["id"]), "Tombol ini tidak berlaku untuk Anda."))
                continue
        await events.emit(session, "channel.message_received", tenant, inbound=item)
        out.applied += 1
    await uow.commit(session)
    return out
