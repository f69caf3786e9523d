"""Hand-over between regencies on real PostgreSQL and Redis: start, delivery (arq job), accept,
decline, the decision back, idempotency, bad input, and two regencies at once."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select, update

from app import live
from app.audit.models import AuditLog
from app.calls.models import EventLog, Incident
from app.calls.service import list_incidents
from app.core.errors import ConflictError, InvalidInput
from app.dispatch.models import Dispatch
from app.handover import document, service
from app.handover.models import HandoverInbox, HandoverOutbox
from app.national.models import national_daily
from app.national.rollup import fold


async def _start(db, who, incident_id, receiver, reason="Lokasi di wilayah tetangga", redis=None):
    async with db.tenant(who.tenant.slug) as s:
        return await service.start(who.ctx(s, redis), incident_id, receiver.slug, reason)


async def _inbox(db, tenant, transfer_id):
    async with db.tenant(tenant.slug) as s:
        return (
            await s.execute(select(HandoverInbox).where(HandoverInbox.transfer_id == transfer_id))
        ).scalar_one_or_none()


async def _outbox(db, tenant, transfer_id):
    async with db.tenant(tenant.slug) as s:
        return (
            await s.execute(select(HandoverOutbox).where(HandoverOutbox.transfer_id == transfer_id))
        ).scalar_one()


async def _national(db, tenant, column):
    await fold(db)
    async with db.public() as s:
        return (
            await s.execute(
                select(func.coalesce(func.sum(national_daily.c[column]), 0)).where(
                    national_daily.c.tenant_id == tenant.id
                )
            )
        ).scalar_one()


async def test_accepted_handover_becomes_the_receivers_incident(db, regency, actor, incident_of, aredis):
    sender, receiver = await regency("97"), await regency("97")
    a, b = await actor(sender), await actor(receiver)
    incident_id = await incident_of(a)
    incidents_before = await _national(db, receiver, "incidents")
    handovers_before = await _national(db, receiver, "handovers")

    pubsub = aredis.pubsub()
    await pubsub.subscribe(live.channel(receiver.slug), live.channel(sender.slug))
    row = await _start(db, a, incident_id, receiver, redis=aredis)
    assert row.status == "pending"
    document.validate(row.document)  # the stored document is a valid v1 document
    assert row.document["informer"]["phoneNumber"] == "+6281234500001"
    assert row.document["location"]["accuracyM"] == 25.0
    assert any(r["text"] == "Asap tebal dari gudang" for r in row.document["remarks"])
    assert row.document["dispatchedAgencies"][0]["status"] == "sent"

    assert await service.deliver(db, sender.slug, str(row.transfer_id), aredis) == "delivered"
    inbox = await _inbox(db, receiver, row.transfer_id)
    assert inbox.status == "ringing" and inbox.sender_name == sender.name
    notices = []
    for _ in range(20):
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if msg:
            notices.append((msg["channel"].decode(), json.loads(msg["data"])))
        if any(ch == live.channel(receiver.slug) and n["topic"] == "handover" for ch, n in notices):
            break
    assert (live.channel(receiver.slug), {"topic": "handover", "data": {"what": "ringing"}}) in notices

    async with db.tenant(receiver.slug) as s:
        new = await service.accept(b.ctx(s, aredis), inbox.id)
    assert new.handover_transfer_id == row.transfer_id and new.lat == -0.79 and new.priority == 1
    assert "+6281234500001" in new.description
    async with db.tenant(receiver.slug) as s:
        kinds = [
            e.kind
            for e in (
                await s.execute(
                    select(EventLog).where(EventLog.entity_id == new.id, EventLog.entity == "incident")
                )
            ).scalars()
        ]
        audit = list(
            (await s.execute(select(AuditLog.action).where(AuditLog.action.like("handover.%")))).scalars()
        )
        timeline = [
            e.data
            for e in (
                await s.execute(
                    select(EventLog).where(EventLog.kind == "handover_remark", EventLog.entity_id == new.id)
                )
            ).scalars()
        ]
    assert kinds[0] == "handover_accepted" and "handover_location" in kinds
    assert any(t["text"] == "Asap tebal dari gudang" for t in timeline)
    assert audit == ["handover.received", "handover.accepted"]

    assert await service.report(db, receiver.slug, str(row.transfer_id), aredis) == "accepted"
    out = await _outbox(db, sender, row.transfer_id)
    assert out.status == "accepted" and "Operator Uji" in out.decided_by_label
    async with db.tenant(sender.slug) as s:
        dispatch = (await s.execute(select(Dispatch).where(Dispatch.incident_id == incident_id))).scalar_one()
        own = await s.get(Incident, incident_id)
        sender_kinds = [
            e.kind
            for e in (
                await s.execute(
                    select(EventLog).where(EventLog.entity == "incident", EventLog.entity_id == incident_id)
                )
            ).scalars()
        ]
        sender_audit = set(
            (await s.execute(select(AuditLog.action).where(AuditLog.action.like("handover.%")))).scalars()
        )
    assert dispatch.status == "sent"  # the dispatch stays with the sender's Damkar
    assert own.status == "open"  # its own OPD still works on it, so it is not closed for them
    assert "handover_sent" in sender_kinds and "handover_accepted" in sender_kinds
    assert sender_audit == {"handover.sent", "handover.accepted_by_receiver"}
    # Counted once: one hand-over at the receiver, not a second incident.
    assert await _national(db, receiver, "handovers") == handovers_before + 1
    assert await _national(db, receiver, "incidents") == incidents_before
    await pubsub.aclose()


async def test_recount_agrees_with_the_live_handover_count(db, regency, actor, incident_of):
    from app.national.rollup import rebuild_tenant

    sender, receiver = await regency("97"), await regency("97")
    a, b = await actor(sender), await actor(receiver)
    row = await _start(db, a, await incident_of(a, dispatch=False), receiver)
    await service.deliver(db, sender.slug, str(row.transfer_id))
    async with db.tenant(receiver.slug) as s:
        await service.accept(b.ctx(s), (await _inbox(db, receiver, row.transfer_id)).id)
    live = (await _national(db, receiver, "handovers"), await _national(db, receiver, "incidents"))
    await rebuild_tenant(db, receiver.slug)
    assert live == (1, 0)
    assert (await _national(db, receiver, "handovers"), await _national(db, receiver, "incidents")) == live


async def test_accepted_without_active_dispatch_closes_the_senders_incident(db, regency, actor, incident_of):
    sender, receiver = await regency("97"), await regency("97")
    a, b = await actor(sender), await actor(receiver)
    incident_id = await incident_of(a, dispatch=False)
    row = await _start(db, a, incident_id, receiver)
    await service.deliver(db, sender.slug, str(row.transfer_id))
    async with db.tenant(receiver.slug) as s:
        await service.accept(b.ctx(s), (await _inbox(db, receiver, row.transfer_id)).id)
    await service.report(db, receiver.slug, str(row.transfer_id))
    async with db.tenant(sender.slug) as s:
        assert (await s.get(Incident, incident_id)).status == "closed"


async def test_declined_handover_goes_back_to_the_senders_open_incidents(db, regency, actor, incident_of):
    sender, receiver = await regency("97"), await regency("97")
    a, b = await actor(sender), await actor(receiver)
    incident_id = await incident_of(a)
    row = await _start(db, a, incident_id, receiver)
    await service.deliver(db, sender.slug, str(row.transfer_id))
    inbox = await _inbox(db, receiver, row.transfer_id)
    async with db.tenant(receiver.slug) as s:
        with pytest.raises(InvalidInput) as exc:
            await service.decline(b.ctx(s), inbox.id, " ")
        assert exc.value.field == "reason"
        await s.rollback()
        await service.decline(b.ctx(s), inbox.id, "Lokasi masih wilayah pengirim")
        assert (await s.execute(select(func.count()).select_from(Incident))).scalar_one() == 0
    assert await service.report(db, receiver.slug, str(row.transfer_id)) == "declined"
    assert await service.report(db, receiver.slug, str(row.transfer_id)) == "done"
    out = await _outbox(db, sender, row.transfer_id)
    assert out.status == "declined" and out.decline_reason == "Lokasi masih wilayah pengirim"
    async with db.tenant(sender.slug) as s:
        assert incident_id in [i.id for i in await list_incidents(s, status="open")]
    # Not lost and not stuck: it can be handed to someone else now.
    other = await regency("97")
    again = await _start(db, a, incident_id, other)
    assert again.status == "pending"


async def test_bad_input_is_refused_with_a_message_and_nothing_written(db, regency, actor, incident_of):
    sender = await regency("97")
    inactive = await regency("97", status="verified")
    a = await actor(sender)
    incident_id = await incident_of(a, dispatch=False)
    cases = [
        (sender.slug, "alasan", "receiver", "sendiri"),
        (inactive.slug, "alasan", "receiver", "belum aktif"),
        ("tidak_ada", "alasan", "receiver", "Pilih"),
        ((await regency("97")).slug, "  ", "reason", "Alasan"),
    ]
    for receiver, reason, field, words in cases:
        async with db.tenant(sender.slug) as s:
            with pytest.raises(InvalidInput) as exc:
                await service.start(a.ctx(s), incident_id, receiver, reason)
            assert exc.value.field == field and words in exc.value.message
    async with db.tenant(sender.slug) as s:
        assert (await s.execute(select(func.count()).select_from(HandoverOutbox))).scalar_one() == 0
    receiver = await regency("97")
    await _start(db, a, incident_id, receiver)
    async with db.tenant(sender.slug) as s:
        with pytest.raises(ConflictError):  # one open hand-over per incident
            await service.start(a.ctx(s), incident_id, (await regency("97")).slug, "alasan lain")


async def test_a_retried_delivery_never_creates_two_incidents(db, regency, actor, incident_of):
    sender, receiver = await regency("97"), await regency("97")
    a, b = await actor(sender), await actor(receiver)
    row = await _start(db, a, await incident_of(a), receiver)
    assert await service.deliver(db, sender.slug, str(row.transfer_id)) == "delivered"
    # The job died after the receiver's commit and before the sender's: the outbox says pending.
    async with db.tenant(sender.slug) as s:
        await s.execute(update(HandoverOutbox).values(status="pending"))
        await s.commit()
    assert await service.deliver(db, sender.slug, str(row.transfer_id)) == "already"
    assert await service.deliver(db, sender.slug, str(row.transfer_id)) == "done"
    async with db.tenant(receiver.slug) as s:
        assert (await s.execute(select(func.count()).select_from(HandoverInbox))).scalar_one() == 1
        inbox_id = (await s.execute(select(HandoverInbox.id))).scalar_one()
        await service.accept(b.ctx(s), inbox_id)
    async with db.tenant(receiver.slug) as s:
        with pytest.raises(ConflictError):
            await service.accept(b.ctx(s), inbox_id)
        assert (await s.execute(select(func.count()).select_from(Incident))).scalar_one() == 1


async def test_delivery_while_the_receiver_is_briefly_unreachable(
    db, engine, regency, actor, incident_of, queue
):
    """The receiver's inbox is locked (a migration, a node failing over): the real arq worker's
    job fails on lock_timeout, the outbox row stays pending with the attempt noted, and a retry
    delivers it once the receiver is back, exactly once."""
    from arq.worker import Worker

    from app.worker import WorkerSettings

    sender, receiver = await regency("97"), await regency("97")
    a = await actor(sender)
    pool = queue
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_pool=pool,
        poll_delay=0.1,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        handle_signals=False,
    )
    lock = await engine.connect()
    await lock.begin()
    await lock.exec_driver_sql(f'LOCK TABLE "tenant_{receiver.slug}".handover_inbox IN ACCESS EXCLUSIVE MODE')
    running = asyncio.create_task(worker.async_run())
    try:
        row = await _start(db, a, await incident_of(a, dispatch=False), receiver)  # queues the job
        for _ in range(100):
            out = await _outbox(db, sender, row.transfer_id)
            if out.attempts:
                break
            await asyncio.sleep(0.1)
        assert out.status == "pending" and out.attempts >= 1 and "LockNotAvailable" in (out.last_error or "")
        await lock.rollback()  # the receiver is back
        for _ in range(150):
            out = await _outbox(db, sender, row.transfer_id)
            if out.status == "delivered":
                break
            await asyncio.sleep(0.1)
        assert out.status == "delivered" and out.last_error is None
        async with db.tenant(receiver.slug) as s:
            assert (await s.execute(select(func.count()).select_from(HandoverInbox))).scalar_one() == 1
    finally:
        await lock.close()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await worker.close()


async def test_two_regencies_hand_over_to_each_other_at_once(db, regency, actor, incident_of):
    x, y = await regency("96"), await regency("96")
    ax, ay = await actor(x), await actor(y)
    ix, iy = await incident_of(ax, dispatch=False), await incident_of(ay, number="+6281234500002")
    rx, ry = await asyncio.gather(_start(db, ax, ix, y), _start(db, ay, iy, x))
    results = await asyncio.gather(
        service.deliver(db, x.slug, str(rx.transfer_id)),
        service.deliver(db, y.slug, str(ry.transfer_id)),
        service.deliver(db, x.slug, str(rx.transfer_id)),
        service.deliver(db, y.slug, str(ry.transfer_id)),
    )
    assert sorted(results).count("delivered") == 2
    for tenant, transfer in ((y, rx.transfer_id), (x, ry.transfer_id)):
        async with db.tenant(tenant.slug) as s:
            rows = list((await s.execute(select(HandoverInbox))).scalars())
        assert [r.transfer_id for r in rows] == [transfer]
    async with db.tenant(x.slug) as sx, db.tenant(y.slug) as sy:
        ibx = (await sx.execute(select(HandoverInbox.id))).scalar_one()
        iby = (await sy.execute(select(HandoverInbox.id))).scalar_one()
        await asyncio.gather(service.accept(ax.ctx(sx), ibx), service.accept(ay.ctx(sy), iby))
    await asyncio.gather(
        service.report(db, x.slug, str(ry.transfer_id)), service.report(db, y.slug, str(rx.transfer_id))
    )
    assert (await _outbox(db, x, rx.transfer_id)).status == "accepted"
    assert (await _outbox(db, y, ry.transfer_id)).status == "accepted"


async def test_neighbours_first_then_the_rest(db, regency):
    me = await regency("95", province="Prov A")
    near = await regency("95", province="Prov A")
    far = await regency("94", province="Prov B")
    off = await regency("95", status="suspended", province="Prov A")
    async with db.tenant(me.slug) as s:
        found = await service.candidates(s, me.slug)
    slugs = [r.slug for r in found]
    assert me.slug not in slugs and off.slug not in slugs
    assert slugs.index(near.slug) < slugs.index(far.slug)
    assert all(r.neighbour for r in found[: slugs.index(near.slug) + 1])


async def test_a_receiver_gone_inactive_sends_it_back_to_the_sender(db, engine, regency, actor, incident_of):
    from sqlalchemy import text

    sender, receiver = await regency("97"), await regency("97")
    a = await actor(sender)
    incident_id = await incident_of(a, dispatch=False)
    row = await _start(db, a, incident_id, receiver)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE public.tenants SET status = 'suspended' WHERE id = :i"), {"i": receiver.id}
        )
    assert await service.deliver(db, sender.slug, str(row.transfer_id)) == "receiver_inactive"
    out = await _outbox(db, sender, row.transfer_id)
    assert out.status == "declined" and "tidak aktif" in out.decline_reason
    assert await _inbox(db, receiver, row.transfer_id) is None


def test_schema_is_2020_12_and_refuses_with_paths():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(document.schema())
    assert document.schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    with pytest.raises(document.InvalidDocument) as exc:
        document.validate(
            {
                "version": "1",
                "transferId": "not-a-uuid",
                "incidentId": "x-1",
                "sentAt": "yesterday",
                "sendingCentre": {"id": "110", "name": "Polres", "kind": "external"},
                "reason": "ok ok",
                "classifications": [],
                "priority": 9,
                "informer": {"phoneNumber": "0812"},
                "remarks": [],
            }
        )
    paths = {p for p, _ in exc.value.errors}
    assert {"$.transferId", "$.sentAt", "$.classifications", "$.priority", "$.informer.phoneNumber"} <= paths


async def test_a_call_without_incident_is_handed_over_and_becomes_an_incident_there(db, regency, actor):
    from app.calls import service as calls
    from app.calls.schemas import CallCreate

    sender, receiver = await regency("97"), await regency("97")
    a, b = await actor(sender), await actor(receiver)
    async with db.tenant(sender.slug) as s:
        call = await calls.create_call(
            a.ctx(s),
            CallCreate(
                caller_number="+6281234500009", notes="Penelepon di seberang sungai, wilayah tetangga"
            ),
        )
        row = await service.start_call(a.ctx(s), call.id, receiver.slug, "Penelepon berada di wilayah Anda")
    document.validate(row.document)
    assert row.call_id == call.id and row.incident_id is None
    assert row.document["classifications"][0]["code"] == "other"
    await service.deliver(db, sender.slug, str(row.transfer_id))
    async with db.tenant(receiver.slug) as s:
        new = await service.accept(b.ctx(s), (await _inbox(db, receiver, row.transfer_id)).id)
    assert "+6281234500009" in new.description
    await service.report(db, receiver.slug, str(row.transfer_id))
    async with db.tenant(sender.slug) as s:
        kinds = [
            e.kind
            for e in (
                await s.execute(
                    select(EventLog).where(EventLog.entity == "call", EventLog.entity_id == call.id)
                )
            ).scalars()
        ]
    assert kinds == ["logged", "handover_sent", "handover_accepted"]


async def test_a_call_already_in_an_incident_is_handed_over_as_the_incident(db, regency, actor, incident_of):
    from app.calls.models import Call

    sender, receiver = await regency("97"), await regency("97")
    a = await actor(sender)
    incident_id = await incident_of(a, dispatch=False)
    async with db.tenant(sender.slug) as s:
        call_id = (await s.execute(select(Call.id).where(Call.incident_id == incident_id))).scalar_one()
        with pytest.raises(ConflictError):
            await service.start_call(a.ctx(s), call_id, receiver.slug, "alasan")


async def test_reconcile_requeues_a_delivery_lost_with_redis(db, regency, actor, incident_of, queue):
    from app.handover.jobs import handover_reconcile

    sender, receiver = await regency("97"), await regency("97")
    a = await actor(sender)
    row = await _start(db, a, await incident_of(a, dispatch=False), receiver)
    from app import namespace

    job_id = namespace.job_id(queue.default_queue_name, f"{service.DELIVER_JOB}:{row.transfer_id}")
    assert await queue.exists(f"arq:job:{job_id}")
    await queue.delete(f"arq:job:{job_id}")  # Redis lost the job
    await queue.zrem(queue.default_queue_name, job_id)
    assert await handover_reconcile({"db": db}) >= 1
    assert await queue.exists(f"arq:job:{job_id}")
