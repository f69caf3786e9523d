"""Text conversations: an inbound message opens (or continues) a conversation, which is a ``calls``
row with channel sms/whatsapp that RINGS on every console (telephony_state 'ringing') until an
operator answers it with the same "Angkat" as a voice call. From then on it is a call like any
other (outcome, incident, dispatch, SLA answer clock, national counts); the operator chats with the
person, every outbound message carrying its delivery state.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import events, live
from app.audit.service import record
from app.calls.models import Call
from app.calls.service import Ctx, finish, log_event
from app.channels import service as channels
from app.conversations.models import Message
from app.core.clock import now
from app.core.errors import ConflictError, DeniedError, InvalidInput, NotFoundError

log = logging.getLogger(__name__)
TEXT_CHANNELS = ("sms", "whatsapp")
CONVERSATION_IDLE = timedelta(hours=24)  # a message after this opens a new conversation
MAX_REPLY = 1000
# Delivery states only move forward (a late "delivered" never hides a "read"); failed is final.
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


def _chat_notice(ctx: Ctx, call_id: int) -> None:
    """After the commit (``ctx.redis`` None: on the arq queue's Redis connection)."""
    live.notify_after_commit(ctx.session, ctx.redis, ctx.slug, "chat", {"call_id": call_id})


async def receive(
    ctx: Ctx, channel: str, sender: str, body: str, provider_id: str, at: datetime
) -> tuple[Message | None, Call | None]:
    """Store an inbound message and commit; None if this provider id was already received."""
    msg, call, topics = await store_inbound(ctx, channel, sender, body, provider_id, at)
    await finish(ctx, *topics)
    return msg, call


async def store_inbound(
    ctx: Ctx, channel: str, sender: str, body: str, provider_id: str, at: datetime
) -> tuple[Message | None, Call | None, list[str]]:
    """Add an inbound message to its conversation (opening one: it rings) in the caller's
    transaction, without committing: the SMS webhook commits at once, the channels' WhatsApp
    webhook commits with the rest of its batch. Returns the console topics to refresh."""
    session = ctx.session
    seen = (await session.execute(select(Message.id).where(Message.provider_id == provider_id))).first()
    if seen:
        return None, None, []
    call = (
        await session.execute(
            select(Call)
            .where(
                Call.channel == channel,
                Call.caller_number == sender,
                Call.ended_at.is_(None),
                Call.received_at >= now() - CONVERSATION_IDLE,
            )
            .order_by(Call.received_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    topics = ["chat"]
    if call is None:
        call = Call(
            caller_number=sender,
            channel=channel,
            received_at=min(at, now()),
            telephony_state="ringing",
            external_id=f"{channel}:{uuid.uuid4().hex}",
        )
        session.add(call)
        await session.flush()
        log_event(
            ctx, "call", call.id, "conversation.opened", {"channel": channel, "first_message": provider_id}
        )
        await events.emit(session, "call.created", ctx.tenant, call=call)
        topics += ["ringing", "calls"]
    msg = Message(call_id=call.id, direction="in", body=body, provider_id=provider_id, state="received")
    session.add(msg)
    await session.flush()
    _chat_notice(ctx, call.id)
    return msg, call, topics


async def get_conversation(session: AsyncSession, call_id: int, *, lock: bool = False) -> Call:
    stmt = select(Call).where(Call.id == call_id, Call.channel.in_(TEXT_CHANNELS))
    call = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if call is None:
        raise NotFoundError(f"Percakapan #{call_id} tidak ditemukan")
    return call


async def messages(session: AsyncSession, call_id: int) -> list[Message]:
    rows = await session.execute(select(Message).where(Message.call_id == call_id).order_by(Message.id))
    return list(rows.scalars().all())


def _may_write(ctx: Ctx, call: Call) -> None:
    if call.operator_id is None:
        raise ConflictError("Angkat percakapan ini dulu (tombol Angkat di panel panggilan masuk)")
    if call.operator_id != ctx.actor_id and ctx.actor.role not in ("supervisor", "admin"):
        raise DeniedError("Percakapan ini ditangani operator lain")


async def send_reply(ctx: Ctx, call_id: int, body: str) -> Message:
    """Queue the reply (committed first: what the operator wrote is never lost), send it through
    the one outbound seam, record the provider's answer as its delivery state."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput("body", "Pesan tidak boleh kosong")
    if len(body) > MAX_REPLY:
        raise InvalidInput("body", f"Pesan terlalu panjang (maks {MAX_REPLY} karakter)")
    session = ctx.session
    call = await get_conversation(session, call_id, lock=True)
    _may_write(ctx, call)
    if call.ended_at is not None:
        raise ConflictError("Percakapan sudah diakhiri")
    if call.caller_number is None:
        raise ConflictError("Nomor pengirim tidak tersedia: balasan tidak dapat dikirim")
    msg = Message(call_id=call.id, direction="out", body=body, state="queued", sent_by=ctx.actor_id)
    session.add(msg)
    await session.flush()
    _chat_notice(ctx, call.id)
    await finish(ctx)
    result = await channels.send_text(session, ctx.slug, call.channel, call.caller_number, body)
    if result.ok:
        msg.state, msg.provider_id = "sent", result.provider_id or None
    else:
        msg.state, msg.error = "failed", (result.error or result.outcome)[:300]
    msg.state_at = now()
    _chat_notice(ctx, call.id)
    await finish(ctx)
    return msg


async def apply_status(ctx: Ctx, provider_id: str, state: str, error: str | None = None) -> Message | None:
    """A provider's delivery report for one of our messages, committed (unknown ids are ignored)."""
    msg = await store_status(ctx, provider_id, state, error)
    await finish(ctx)
    return msg


async def store_status(ctx: Ctx, provider_id: str, state: str, error: str | None = None) -> Message | None:
    """``apply_status`` in the caller's transaction, without committing."""
    session = ctx.session
    msg = (
        await session.execute(select(Message).where(Message.provider_id == provider_id).with_for_update())
    ).scalar_one_or_none()
    if msg is None or msg.direction != "out" or msg.state == "failed":
        return None
    if state == "failed" or _RANK.get(state, -1) > _RANK.get(msg.state, -1):
        msg.state, msg.state_at = state, now()
        if error:
            msg.error = error[:300]
        _chat_notice(ctx, msg.call_id)
    return msg


async def set_deaf(ctx: Ctx, call_id: int, value: bool) -> Call:
    call = await get_conversation(ctx.session, call_id, lock=True)
    before = call.deaf_speech_impaired
    call.deaf_speech_impaired = value
    log_event(ctx, "call", call.id, "deaf_speech_impaired", {"value": value})
    await record(
        ctx.session,
        "conversation.deaf_marked",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="call",
        entity_id=call.id,
        before={"deaf_speech_impaired": before},
        after={"deaf_speech_impaired": value},
    )
    _chat_notice(ctx, call.id)
    await finish(ctx, "ringing")
    return call


async def end(ctx: Ctx, call_id: int) -> Call:
    call = await get_conversation(ctx.session, call_id, lock=True)
    _may_write(ctx, call)
    if call.ended_at is not None:
        return call
    before = (call.ended_at, call.telephony_state)
    call.ended_at, call.telephony_state = now(), "ended"
    log_event(ctx, "call", call.id, "conversation.ended", {})
    await ctx.session.flush()
    await events.emit(
        ctx.session,
        "call.updated",
        ctx.tenant,
        actor_id=ctx.actor_id,
        call=call,
        changes={"ended_at": (before[0], call.ended_at), "telephony_state": (before[1], "ended")},
    )
    _chat_notice(ctx, call.id)
    await finish(ctx, "ringing", "calls")
    return call


async def channel_report(
    session: AsyncSession, since: datetime, until: datetime, target_s: int = 15
) -> list[dict]:
    """Per channel: contacts, answered, answered within ``target_s`` (NENA: 15 s), median answer time."""
    wait = func.extract("epoch", Call.answered_at - Call.received_at)
    rows = await session.execute(
        select(
            Call.channel,
            func.count(),
            func.count(Call.answered_at),
            func.count().filter(wait <= target_s),
            func.percentile_cont(0.5).within_group(wait),
        )
        .where(Call.received_at >= since, Call.received_at < until)
        .group_by(Call.channel)
        .order_by(Call.channel)
    )
    return [
        {
            "channel": ch,
            "contacts": total,
            "answered": answered,
            "answered_within_target": within,
            "target_s": target_s,
            "median_answer_s": round(median, 1) if median is not None else None,
        }
        for ch, total, answered, within, median in rows.all()
    ]
