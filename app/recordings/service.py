"""Recording rules: audio only, stored then recorded, played to allowed roles, purged on retention."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.calls.models import Call
from app.calls.service import Ctx, finish, log_event
from app.core.clock import now
from app.core.errors import DeniedError, InvalidInput, NotFoundError
from app.core.principal import Principal
from app.db import uow
from app.recordings import audio
from app.recordings.models import DEFAULT_RETENTION_DAYS, Recording, RecordingPolicy
from app.recordings.store import ObjectStore

log = logging.getLogger(__name__)
MAX_BYTES = 50 * 1024 * 1024
# Who may listen: supervisors and admins; an operator only to the calls they took themselves.
LISTEN_ROLES = ("supervisor", "admin")
SYSTEM = Principal(kind="token", user_id=None, role="system", name="Retensi rekaman (otomatis)")


async def retention_days(session: AsyncSession) -> int:
    days = (await session.execute(select(RecordingPolicy.retention_days).limit(1))).scalar_one_or_none()
    return days or DEFAULT_RETENTION_DAYS


async def set_retention(ctx: Ctx, days: int) -> int:
    """Change the regency's retention; existing recordings get their deletion date recomputed."""
    if not 1 <= days <= 3650:
        raise InvalidInput("retention_days", "Masa simpan harus antara 1 dan 3650 hari")
    session = ctx.session
    policy = (await session.execute(select(RecordingPolicy).limit(1).with_for_update())).scalar_one_or_none()
    before = policy.retention_days if policy else DEFAULT_RETENTION_DAYS
    if policy is None:
        policy = RecordingPolicy(retention_days=days, updated_by=ctx.actor_id)
        session.add(policy)
    policy.retention_days, policy.updated_by, policy.updated_at = days, ctx.actor_id, now()
    rows = (await session.execute(select(Recording).where(Recording.deleted_at.is_(None)))).scalars().all()
    for rec in rows:
        rec.delete_after = rec.received_at + timedelta(days=days)
    await record(
        session,
        "recording.retention_changed",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="recording_policy",
        before={"retention_days": before},
        after={"retention_days": days, "recordings": len(rows)},
    )
    await finish(ctx)
    return days


async def ingest(
    ctx: Ctx, store: ObjectStore, external_call_id: str, data: bytes, source_url: str | None = None
) -> Recording:
    """Store ``data`` for the integrator's call; refused unless its bytes are an audio container."""
    if not data:
        raise InvalidInput("recording", "Rekaman kosong")
    if len(data) > MAX_BYTES:
        raise InvalidInput("recording", f"Rekaman terlalu besar (maks {MAX_BYTES // (1024 * 1024)} MB)")
    kind = audio.sniff(data[:16])
    if kind is None:
        raise InvalidInput("recording", "Bukan berkas audio (WAV, MP3, OGG/Opus, FLAC, AMR atau M4A)")
    media_type, ext = kind
    session = ctx.session
    call = (
        await session.execute(select(Call).where(Call.external_id == external_call_id))
    ).scalar_one_or_none()
    if call is None:
        raise NotFoundError(f"Panggilan {external_call_id} tidak dikenal")
    days = await retention_days(session)
    key = f"{ctx.slug}/{call.id}/{uuid.uuid4().hex}.{ext}"
    await store.put(key, data, media_type)
    try:
        rec = Recording(
            call_id=call.id,
            object_key=key,
            media_type=media_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            source_url=source_url,
            delete_after=now() + timedelta(days=days),
        )
        session.add(rec)
        await session.flush()
        log_event(ctx, "call", call.id, "recording_added", {"recording_id": rec.id, "bytes": len(data)})
        await record(
            session,
            "recording.stored",
            actor_id=ctx.actor_id,
            actor_label=ctx.actor_label,
            origin=ctx.origin,
            entity="recording",
            entity_id=rec.id,
            after={"call_id": call.id, "bytes": len(data), "media_type": media_type, "sha256": rec.sha256},
        )
        await finish(ctx)
    except BaseException:
        await store.delete(key)  # no object without its row
        raise
    return rec


def may_listen(principal: Principal, call: Call) -> bool:
    if principal.role in LISTEN_ROLES:
        return True
    return (
        principal.role == "operator"
        and principal.user_id is not None
        and call.operator_id == principal.user_id
    )


async def recordings_of(session: AsyncSession, call_id: int) -> list[Recording]:
    rows = await session.execute(
        select(Recording)
        .where(Recording.call_id == call_id, Recording.deleted_at.is_(None))
        .order_by(Recording.received_at)
    )
    return list(rows.scalars().all())


async def open_for_listening(ctx: Ctx, recording_id: int, byte_range: str | None) -> Recording:
    """Authorise and AUDIT one access (granted or refused) before any byte leaves storage."""
    session = ctx.session
    row = (
        await session.execute(
            select(Recording, Call)
            .join(Call, Call.id == Recording.call_id)
            .where(Recording.id == recording_id)
        )
    ).first()
    if row is None or row[0].deleted_at is not None:
        raise NotFoundError("Rekaman tidak ditemukan (mungkin sudah dihapus karena masa simpan)")
    rec, call = row
    allowed = may_listen(ctx.actor, call)
    await record(
        session,
        "recording.played" if allowed else "recording.denied",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="recording",
        entity_id=rec.id,
        after={"call_id": call.id, "range": byte_range, "role": ctx.actor.role},
    )
    await uow.commit(session)
    if not allowed:
        raise DeniedError(
            "Anda tidak berhak mendengar rekaman ini (supervisor/admin, atau operator panggilan ini)"
        )
    return rec


async def purge_expired(session: AsyncSession, store: ObjectStore, tenant: str, limit: int = 500) -> int:
    """Delete recordings past their retention: the object first, then the row is marked deleted."""
    due = (
        (
            await session.execute(
                select(Recording)
                .where(Recording.deleted_at.is_(None), Recording.delete_after <= now())
                .order_by(Recording.delete_after)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for rec in due:
        await store.delete(rec.object_key)
        rec.deleted_at = now()
        await record(
            session,
            "recording.deleted",
            actor_id=None,
            actor_label=SYSTEM.label,
            entity="recording",
            entity_id=rec.id,
            after={"call_id": rec.call_id, "reason": "retention"},
        )
    await uow.commit(session)
    if due:
        log.info("purged %d recordings of %s", len(due), tenant)
    return len(due)
