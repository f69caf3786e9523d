"""Hand-over of an incident to another active regency: the ONLY code that writes across tenants.

The flow (docs/handover.md), each step one transaction on ONE side:

1. ``start`` (sender): validate, build the document, write an OUTBOX row, a timeline event and an
   audit row; after the commit the arq job ``handover_deliver`` is queued.
2. ``deliver`` (job): reads the sender's outbox row (the document), writes an INBOX row in the
   receiver (``transfer_id`` unique: a retried delivery finds it and creates nothing new), then
   marks the outbox row delivered. A receiver that cannot be written (locked, down) raises, and
   the job retries with back-off; the outbox row stays pending meanwhile.
3. ``accept`` / ``decline`` (receiver): the receiver's operator decides. Accept opens the
   receiver's own incident from the document alone. After the commit ``handover_report`` is queued.
4. ``report`` (job): copies the decision (status, reason, who) into the sender's outbox row and
   timeline. A declined incident stays in the sender's open incidents; dispatches already sent
   stay with the sender's OPDs in every case.

The receiver never reads the sender's schema: everything it learns is the document (and the
decision goes back as three fields). ``tests/handover`` and ``tests/test_isolation.py`` check it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import events, live
from app.audit.service import record
from app.auth.models import User
from app.calls.models import Call, Incident
from app.calls.service import Ctx, finish, log_event
from app.core import clock
from app.core.errors import ConflictError, InvalidInput, NotFoundError
from app.core.principal import Principal
from app.core.tenant import TenantInfo
from app.db import uow
from app.dispatch.models import Category, Dispatch
from app.handover import document
from app.handover.models import HandoverInbox, HandoverOutbox
from app.jobs import enqueue_into
from app.tenancy.models import Tenant
from app.tenancy.registry import known_tenant

LIVE_TOPIC = "handover"
DELIVER_JOB = "handover_deliver"
REPORT_JOB = "handover_report"
# A receiver whose inbox cannot be written within this long counts as unreachable (the job retries).
RECEIVER_LOCK_TIMEOUT = "3s"
OPEN_OUTBOX = ("pending", "delivered")
ACTIVE_DISPATCH = ("sent", "acknowledged", "en_route", "on_scene")
SYSTEM = Principal(kind="system", user_id=None, role="system", name="Serah terima antar-daerah")


@dataclass(frozen=True)
class Regency:
    id: int
    slug: str
    name: str
    region_code: str
    province: str
    neighbour: bool = False

    @property
    def centre(self) -> dict[str, str]:
        return {"id": self.region_code, "name": self.name}


async def _regency(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def candidates(session: AsyncSession, own_slug: str) -> list[Regency]:
    """Active regencies other than ours: same province first (Kemendagri code prefix), then the rest."""
    own = await _regency(session, own_slug)
    prefix = own.region_code.split(".")[0] if own else ""
    rows = (
        await session.execute(
            select(Tenant).where(Tenant.status == "active", Tenant.slug != own_slug).order_by(Tenant.name)
        )
    ).scalars()
    found = [
        Regency(t.id, t.slug, t.name, t.region_code, t.province, t.region_code.split(".")[0] == prefix)
        for t in rows
    ]
    return sorted(found, key=lambda r: (not r.neighbour, r.name))


# --- 1. sender: start ----------------------------------------------------------------------------


async def _receiver(ctx: Ctx, receiver_slug: str, reason: str) -> tuple[str, Tenant, TenantInfo]:
    """The checks every hand-over passes first: a reason, another regency, and an active one."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput("reason", "Alasan serah terima wajib diisi (minimal 3 karakter)")
    if receiver_slug == ctx.slug:
        raise InvalidInput("receiver", "Tidak bisa menyerahkan ke kabupaten/kota sendiri")
    receiver = await _regency(ctx.session, receiver_slug) if receiver_slug else None
    if receiver is None:
        raise InvalidInput("receiver", "Pilih kabupaten/kota penerima")
    if receiver.status != "active":
        raise InvalidInput("receiver", f"{receiver.name} belum aktif melayani 112; pilih daerah lain")
    return reason, receiver, ctx.tenant


async def start(ctx: Ctx, incident_id: int, receiver_slug: str, reason: str) -> HandoverOutbox:
    """Hand an open incident over (its calls, notes, fixes and timeline go in the document)."""
    reason, receiver, own = await _receiver(ctx, receiver_slug, reason)
    incident = (
        await ctx.session.execute(select(Incident).where(Incident.id == incident_id).with_for_update())
    ).scalar_one_or_none()
    if incident is None:
        raise NotFoundError(f"Insiden #{incident_id} tidak ditemukan")
    if incident.status != "open":
        raise ConflictError(f"Insiden #{incident.id} sudah ditutup")
    await _none_waiting(ctx, HandoverOutbox.incident_id == incident.id, f"Insiden #{incident.id}")
    return await _write(
        ctx, own, receiver, reason, incident=incident, shared=_shared_id(incident, own.region_code)
    )


async def start_call(ctx: Ctx, call_id: int, receiver_slug: str, reason: str) -> HandoverOutbox:
    """Hand over a call that has no incident yet: a caller across the border reached us."""
    reason, receiver, own = await _receiver(ctx, receiver_slug, reason)
    call = (
        await ctx.session.execute(select(Call).where(Call.id == call_id).with_for_update())
    ).scalar_one_or_none()
    if call is None:
        raise NotFoundError(f"Panggilan #{call_id} tidak ditemukan")
    if call.incident_id is not None:
        raise ConflictError(
            f"Panggilan #{call.id} sudah menjadi insiden #{call.incident_id}: serahkan insidennya"
        )
    await _none_waiting(ctx, HandoverOutbox.call_id == call.id, f"Panggilan #{call.id}")
    return await _write(ctx, own, receiver, reason, call=call)


async def _none_waiting(ctx: Ctx, condition: Any, label: str) -> None:
    waiting = (
        await ctx.session.execute(
            select(HandoverOutbox.receiver_name).where(condition, HandoverOutbox.status.in_(OPEN_OUTBOX))
        )
    ).scalar_one_or_none()
    if waiting is not None:
        raise ConflictError(f"{label} sedang menunggu jawaban {waiting}")


async def _write(
    ctx: Ctx,
    own: TenantInfo,
    receiver: Tenant,
    reason: str,
    *,
    incident: Incident | None = None,
    call: Any = None,
    shared: str | None = None,
) -> HandoverOutbox:
    """ONE sender transaction: outbox row (with the validated document), timeline, audit; the
    delivery job is queued after the commit."""
    transfer_id = uuid.uuid4()
    doc = await document.build(
        ctx.session,
        incident,
        call=call,
        transfer_id=transfer_id,
        sender={"id": own.region_code, "name": own.name},
        receiver={"id": receiver.region_code, "name": receiver.name},
        reason=reason,
        shared_id=shared,
    )
    row = HandoverOutbox(
        transfer_id=transfer_id,
        incident_id=incident.id if incident else None,
        call_id=call.id if incident is None else None,
        receiver_tenant_id=receiver.id,
        receiver_slug=receiver.slug,
        receiver_name=receiver.name,
        reason=reason,
        document=doc,
        status="pending",
        created_by=ctx.actor_id,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    entity, entity_id = _subject(row)
    log_event(
        ctx,
        entity,
        entity_id,
        "handover_sent",
        {"transfer_id": str(transfer_id), "receiver": receiver.name, "reason": reason},
    )
    await record(
        ctx.session,
        "handover.sent",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity=entity,
        entity_id=entity_id,
        after={"transfer_id": str(transfer_id), "receiver": receiver.slug, "reason": reason},
    )
    _queue(ctx.session, DELIVER_JOB, ctx.slug, str(transfer_id))
    await finish(ctx, LIVE_TOPIC, "incidents", "calls")
    return row


def _subject(row: HandoverOutbox) -> tuple[str, int]:
    if row.incident_id is not None:
        return "incident", row.incident_id
    return "call", row.call_id  # type: ignore[return-value]


def _shared_id(incident: Incident, region_code: str) -> str:
    """An incident received by hand-over keeps the id it was given where it started."""
    if incident.handover_transfer_id is not None:
        return f"urn:siaga112:transfer:{incident.handover_transfer_id}"
    return document.shared_incident_id(region_code, incident.id)


def _queue(session: AsyncSession, job: str, slug: str, transfer_id: str) -> None:
    """After the commit: the job, with an id per step so a repeat request queues it once."""
    events.after_commit_redis(
        session,
        lambda pipe: enqueue_into(pipe, job, slug, transfer_id, _job_id=f"{job}:{transfer_id}"),
    )


# --- 2. delivery (arq job) -----------------------------------------------------------------------


async def deliver(db: Any, sender_slug: str, transfer_id: str, redis: Any = None) -> str:
    """Copy one outbox document into the receiver's inbox; idempotent. Returns what happened."""
    async with db.tenant(sender_slug) as s:
        out = (
            await s.execute(
                select(HandoverOutbox).where(HandoverOutbox.transfer_id == uuid.UUID(transfer_id))
            )
        ).scalar_one_or_none()
        sender = await _regency(s, sender_slug)
    if out is None or sender is None:
        return "unknown"
    if out.status != "pending":
        return "done"
    async with db.tenant(out.receiver_slug) as r:
        await r.execute(text(f"SET LOCAL lock_timeout = '{RECEIVER_LOCK_TIMEOUT}'"))
        receiver = await _regency(r, out.receiver_slug)
        if receiver is None or receiver.status != "active":
            await r.rollback()
            return await _undeliverable(db, sender_slug, out.transfer_id, redis)
        inserted = (
            await r.execute(
                pg_insert(HandoverInbox)
                .values(
                    transfer_id=out.transfer_id,
                    source="regency",
                    sender_tenant_id=sender.id,
                    sender_name=sender.name,
                    reason=out.reason,
                    document=out.document,
                    status="ringing",
                )
                .on_conflict_do_nothing(index_elements=["transfer_id"])
                .returning(HandoverInbox.id)
            )
        ).scalar_one_or_none()
        if inserted is not None:
            await record(
                r,
                "handover.received",
                actor_label=SYSTEM.label,
                entity="handover",
                entity_id=inserted,
                after={"transfer_id": transfer_id, "sender": sender.slug},
            )
            _live(r, redis, out.receiver_slug, "ringing")
        await uow.commit(r)
    async with db.tenant(sender_slug) as s:
        await s.execute(
            update(HandoverOutbox)
            .where(HandoverOutbox.transfer_id == out.transfer_id, HandoverOutbox.status == "pending")
            .values(
                status="delivered",
                delivered_at=clock.now(),
                attempts=HandoverOutbox.attempts + 1,
                last_error=None,
            )
        )
        _live(s, redis, sender_slug, "delivered")
        await uow.commit(s)
    return "delivered" if inserted is not None else "already"


async def note_failure(db: Any, sender_slug: str, transfer_id: str, error: str) -> int:
    """Record a failed delivery attempt on the outbox row (shown to the sender); the attempt count."""
    async with db.tenant(sender_slug) as s:
        attempts = (
            await s.execute(
                update(HandoverOutbox)
                .where(HandoverOutbox.transfer_id == uuid.UUID(transfer_id))
                .values(attempts=HandoverOutbox.attempts + 1, last_error=error[:500])
                .returning(HandoverOutbox.attempts)
            )
        ).scalar_one_or_none()
        await uow.commit(s)
    return attempts or 0


async def _undeliverable(db: Any, sender_slug: str, transfer_id: uuid.UUID, redis: Any) -> str:
    """The receiver stopped being active before delivery: declined on its behalf, back to the sender."""
    await _apply_decision(
        db,
        sender_slug,
        transfer_id,
        "declined",
        "Kabupaten/kota penerima tidak aktif lagi; serah terima tidak terkirim",
        SYSTEM.label,
        redis,
    )
    return "receiver_inactive"


# --- 3. receiver: accept / decline ---------------------------------------------------------------


async def _inbox(session: AsyncSession, inbox_id: int) -> HandoverInbox:
    row = (
        await session.execute(select(HandoverInbox).where(HandoverInbox.id == inbox_id).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"Serah terima #{inbox_id} tidak ditemukan")
    if row.status != "ringing":
        raise ConflictError(f"Serah terima #{inbox_id} sudah dijawab ({row.status})")
    return row


async def _category_for(session: AsyncSession, doc: dict) -> Category:
    codes = [c["code"] for c in doc.get("classifications", [])]
    cats = list((await session.execute(select(Category).where(Category.is_active.is_(True)))).scalars())
    by_code = {c.code: c for c in cats}
    for code in [*codes, "other"]:
        if code in by_code:
            return by_code[code]
    if not cats:
        raise ConflictError("Tidak ada kategori aktif untuk insiden serah terima")
    return sorted(cats, key=lambda c: (c.sort_order, c.id))[-1]


async def accept(ctx: Ctx, inbox_id: int) -> Incident:
    """The receiver's own incident, built from the document alone (caller, notes, fixes, timeline)."""
    row = await _inbox(ctx.session, inbox_id)
    doc = row.document
    category = await _category_for(ctx.session, doc)
    loc = doc.get("location") or {}
    informer = doc.get("informer") or {}
    description = "\n".join(
        p
        for p in (
            doc.get("description"),
            f"Serah terima dari {row.sender_name}: {row.reason}",
            f"Pelapor: {informer.get('phoneNumber') or 'nomor tidak diketahui'}",
        )
        if p
    )
    incident = Incident(
        category_id=category.id,
        priority=int(doc.get("priority") or category.default_priority),
        status="open",
        address=loc.get("address"),
        kecamatan=loc.get("kecamatan"),
        kelurahan=loc.get("kelurahan"),
        lat=loc.get("latitude"),
        lon=loc.get("longitude"),
        description=description[:5000],
        people_involved=doc.get("peopleInvolved"),
        opened_by=ctx.actor_id,
        handover_transfer_id=row.transfer_id,
        handover_source=row.source,
    )
    ctx.session.add(incident)
    await ctx.session.flush()
    log_event(
        ctx,
        "incident",
        incident.id,
        "handover_accepted",
        {
            "transfer_id": str(row.transfer_id),
            "incident_id": doc.get("incidentId"),
            "sender": row.sender_name,
            "reason": row.reason,
            "caller_number": informer.get("phoneNumber"),
            "channel": informer.get("channel"),
            "dispatched_by_sender": doc.get("dispatchedAgencies", []),
        },
    )
    for fix in doc.get("locationFixes", []):
        log_event(ctx, "incident", incident.id, "handover_location", fix)
    for remark in doc.get("remarks", []):
        log_event(ctx, "incident", incident.id, "handover_remark", remark)
    row.status, row.decided_by, row.decided_at, row.incident_id = (
        "accepted",
        ctx.actor_id,
        clock.now(),
        incident.id,
    )
    await ctx.session.flush()
    await record(
        ctx.session,
        "handover.accepted",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="handover",
        entity_id=row.id,
        after={"transfer_id": str(row.transfer_id), "incident_id": incident.id},
    )
    await events.emit(
        ctx.session, "incident.opened", ctx.tenant, actor_id=ctx.actor_id, incident=incident, call=None
    )
    if row.source == "regency":
        _queue(ctx.session, REPORT_JOB, ctx.slug, str(row.transfer_id))
    await finish(ctx, LIVE_TOPIC, "incidents")
    return incident


async def decline(ctx: Ctx, inbox_id: int, reason: str) -> HandoverInbox:
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput("reason", "Alasan penolakan wajib diisi (minimal 3 karakter)")
    row = await _inbox(ctx.session, inbox_id)
    row.status, row.decline_reason, row.decided_by, row.decided_at = (
        "declined",
        reason,
        ctx.actor_id,
        clock.now(),
    )
    await ctx.session.flush()
    await record(
        ctx.session,
        "handover.declined",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="handover",
        entity_id=row.id,
        after={"transfer_id": str(row.transfer_id), "reason": reason},
    )
    if row.source == "regency":
        _queue(ctx.session, REPORT_JOB, ctx.slug, str(row.transfer_id))
    await finish(ctx, LIVE_TOPIC)
    return row


# --- 4. the decision back to the sender (arq job) ------------------------------------------------


async def report(db: Any, receiver_slug: str, transfer_id: str, redis: Any = None) -> str:
    """Carry the receiver's decision (status, reason, who) to the sender's outbox; idempotent."""
    async with db.tenant(receiver_slug) as r:
        row = (
            await r.execute(select(HandoverInbox).where(HandoverInbox.transfer_id == uuid.UUID(transfer_id)))
        ).scalar_one_or_none()
        if row is None or row.status == "ringing" or row.sender_tenant_id is None:
            return "nothing"
        if row.reported_at is not None:
            return "done"
        sender = (
            await r.execute(select(Tenant.slug).where(Tenant.id == row.sender_tenant_id))
        ).scalar_one_or_none()
        decider = None
        if row.decided_by is not None:
            user = await r.get(User, row.decided_by)
            decider = f"{user.full_name} ({user.role})" if user else None
        receiver_name = (await _regency(r, receiver_slug)).name  # type: ignore[union-attr]
        status, reason = row.status, row.decline_reason
    if sender is None:
        return "unknown_sender"
    await _apply_decision(
        db, sender, row.transfer_id, status, reason, f"{decider or 'operator'} — {receiver_name}", redis
    )
    async with db.tenant(receiver_slug) as r:
        await r.execute(
            update(HandoverInbox)
            .where(HandoverInbox.transfer_id == row.transfer_id)
            .values(reported_at=clock.now())
        )
        await uow.commit(r)
    return status


async def _apply_decision(
    db: Any, sender_slug: str, transfer_id: uuid.UUID, status: str, reason: str | None, who: str, redis: Any
) -> None:
    """One sender transaction: outbox row, timeline event, audit row; closes the sender's incident
    on acceptance when none of its own OPDs is still working on it (their dispatches stay)."""
    async with db.tenant(sender_slug) as s:
        out = (
            await s.execute(
                select(HandoverOutbox).where(HandoverOutbox.transfer_id == transfer_id).with_for_update()
            )
        ).scalar_one_or_none()
        if out is None or out.status not in OPEN_OUTBOX:
            return
        out.status, out.decline_reason, out.decided_at, out.decided_by_label = (
            status,
            reason,
            clock.now(),
            who,
        )
        sender = await known_tenant(s, sender_slug)  # the receiver's job: the sender is another regency
        ctx = Ctx(session=s, tenant=sender, actor=SYSTEM, redis=redis)
        entity, entity_id = _subject(out)
        log_event(
            ctx,
            entity,
            entity_id,
            f"handover_{status}",
            {"transfer_id": str(transfer_id), "receiver": out.receiver_name, "by": who, "reason": reason},
        )
        await record(
            s,
            f"handover.{status}_by_receiver",
            actor_label=who,
            entity=entity,
            entity_id=entity_id,
            after={"transfer_id": str(transfer_id), "receiver": out.receiver_slug, "reason": reason},
        )
        if status == "accepted" and out.incident_id is not None:
            incident = (
                await s.execute(select(Incident).where(Incident.id == out.incident_id).with_for_update())
            ).scalar_one()
            busy = (
                await s.execute(
                    select(Dispatch.id).where(
                        Dispatch.incident_id == incident.id, Dispatch.status.in_(ACTIVE_DISPATCH)
                    )
                )
            ).first()
            if incident.status == "open" and busy is None:
                incident.status, incident.closed_at = "closed", clock.now()
                await s.flush()
                log_event(
                    ctx, "incident", incident.id, "closed", {"reason": f"diserahkan ke {out.receiver_name}"}
                )
                await events.emit(
                    s,
                    "incident.updated",
                    sender,
                    incident=incident,
                    changes={"status": ("open", "closed")},
                )
        _live(s, redis, sender_slug, status)
        await finish(ctx, "incidents")


def _live(session: AsyncSession, redis: Any, slug: str, what: str) -> None:
    live.notify_after_commit(session, redis, slug, LIVE_TOPIC, {"what": what})


# --- reads ---------------------------------------------------------------------------------------


async def ringing(session: AsyncSession) -> list[HandoverInbox]:
    return list(
        (
            await session.execute(
                select(HandoverInbox)
                .where(HandoverInbox.status == "ringing")
                .order_by(HandoverInbox.received_at)
            )
        ).scalars()
    )


async def outgoing(session: AsyncSession, limit: int = 20) -> list[HandoverOutbox]:
    """Open hand-overs first, then the latest decided ones (what the sender watches)."""
    rows = (
        await session.execute(
            select(HandoverOutbox)
            .order_by(HandoverOutbox.created_at.desc(), HandoverOutbox.id.desc())
            .limit(limit)
        )
    ).scalars()
    return sorted(rows, key=lambda o: o.status not in OPEN_OUTBOX)


# --- from an external system (API) ---------------------------------------------------------------


async def receive_external(ctx: Ctx, doc: Any) -> tuple[HandoverInbox, bool]:
    """A document from an external system (110/119 CAD…): validated, then rung in like a regency's.
    The same transferId twice: the first row, not a second one (created False)."""
    doc = document.validate(doc)
    if doc["sendingCentre"]["kind"] != "external":
        raise document.InvalidDocument(
            [("$.sendingCentre.kind", "a regency sends through the hand-over service, not this API")]
        )
    values = dict(
        transfer_id=uuid.UUID(doc["transferId"]),
        source="external",
        sender_tenant_id=None,
        sender_name=doc["sendingCentre"]["name"],
        reason=doc["reason"],
        document=doc,
        status="ringing",
    )
    new_id = (
        await ctx.session.execute(
            pg_insert(HandoverInbox)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["transfer_id"])
            .returning(HandoverInbox.id)
        )
    ).scalar_one_or_none()
    if new_id is not None:
        await record(
            ctx.session,
            "handover.received",
            actor_id=ctx.actor_id,
            actor_label=ctx.actor_label,
            origin=ctx.origin,
            entity="handover",
            entity_id=new_id,
            after={"transfer_id": doc["transferId"], "sender": doc["sendingCentre"]["id"]},
        )
        _live(ctx.session, ctx.redis, ctx.slug, "ringing")
    await uow.commit(ctx.session)
    row = (
        await ctx.session.execute(
            select(HandoverInbox).where(HandoverInbox.transfer_id == values["transfer_id"])
        )
    ).scalar_one()
    return row, new_id is not None


async def export(session: AsyncSession, own: TenantInfo, incident_id: int) -> dict:
    """The same document for an external system to read (no receiver, no outbox row)."""
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"Insiden #{incident_id} tidak ditemukan")
    return await document.build(
        session,
        incident,
        transfer_id=uuid.uuid4(),
        sender={"id": own.region_code, "name": own.name},
        receiver=None,
        reason="Ekspor insiden",
        shared_id=_shared_id(incident, own.region_code),
    )
