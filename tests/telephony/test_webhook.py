"""Signed call-event webhook: signatures, replays, out-of-order events, missed calls, silent calls."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

from sqlalchemy import func, select

from app import live
from app.calls.models import Call, EventLog
from app.calls.service import Ctx
from app.core.principal import Principal
from app.telephony import service, triage
from app.telephony.models import CallbackTask, TelephonyEvent
from app.telephony.signing import sign
from tests.telephony.conftest import ago, event, new_id, post_signed


async def _call(db, slug, external_id) -> Call:
    async with db.tenant(slug) as s:
        return (await s.execute(select(Call).where(Call.external_id == external_id))).scalar_one()


def _admin_ctx(session, tenant) -> Ctx:
    return Ctx(
        session=session, tenant=tenant, actor=Principal(kind="tenant", user_id=None, role="admin", name="t")
    )


# --- signatures --------------------------------------------------------------------------------


async def test_missing_signature_is_refused(client, tel):
    body = json.dumps(event("ringing", new_id("c"))).encode()
    resp = await client.post(
        f"/api/v1/t/{tel.slug}/telephony/events",
        content=body,
        headers={"X-Siaga112-Timestamp": str(int(time.time()))},
    )
    assert resp.status_code == 401
    assert "X-Siaga112-Signature" in resp.json()["detail"]


async def test_missing_timestamp_is_refused(client, tel):
    body = json.dumps(event("ringing", new_id("c"))).encode()
    resp = await client.post(
        f"/api/v1/t/{tel.slug}/telephony/events",
        content=body,
        headers={"X-Siaga112-Signature": sign(tel.secret, "1", body)},
    )
    assert resp.status_code == 401
    assert "Timestamp" in resp.json()["detail"]


async def test_wrong_secret_tampered_body_and_malformed_signature_are_refused(client, db, tel):
    call_id = new_id("c")
    resp = await post_signed(client, tel.slug, "not-the-secret", event("ringing", call_id))
    assert resp.status_code == 401 and "HMAC" in resp.json()["detail"]
    body = json.dumps(event("ringing", call_id)).encode()
    ts = str(int(time.time()))
    sig = sign(tel.secret, ts, body)
    url = f"/api/v1/t/{tel.slug}/telephony/events"
    resp = await client.post(
        url,
        content=body.replace(b"112", b"113"),
        headers={"X-Siaga112-Timestamp": ts, "X-Siaga112-Signature": sig},
    )
    assert resp.status_code == 401
    resp = await client.post(
        url, content=body, headers={"X-Siaga112-Timestamp": ts, "X-Siaga112-Signature": "sha256=zz"}
    )
    assert resp.status_code == 401
    # The signature binds the timestamp too: the same signature with another timestamp fails.
    resp = await client.post(
        url, content=body, headers={"X-Siaga112-Timestamp": str(int(ts) - 1), "X-Siaga112-Signature": sig}
    )
    assert resp.status_code == 401
    async with db.tenant(tel.slug) as s:
        assert (
            await s.execute(select(func.count()).select_from(Call).where(Call.external_id == call_id))
        ).scalar() == 0


async def test_unconfigured_tenant_is_told_so(client, tenant_factory):
    other = await tenant_factory(prefix="tnos")
    resp = await post_signed(client, other.slug, "x" * 64, event("ringing", new_id("c")))
    assert resp.status_code == 403
    assert "belum dikonfigurasi" in resp.json()["detail"]


async def test_old_and_future_timestamps_are_refused(client, tel):
    resp = await post_signed(
        client, tel.slug, tel.secret, event("ringing", new_id("c")), ts=time.time() - 301
    )
    assert resp.status_code == 401 and "terlalu lama" in resp.json()["detail"]
    resp = await post_signed(
        client, tel.slug, tel.secret, event("ringing", new_id("c")), ts=time.time() + 120
    )
    assert resp.status_code == 401 and "masa depan" in resp.json()["detail"]
    ok = await post_signed(client, tel.slug, tel.secret, event("ringing", new_id("c")), ts=time.time() - 200)
    assert ok.status_code == 200, ok.text


async def test_rotated_secret_keeps_the_previous_one_for_the_grace_period(client, db, tenant_factory):
    tenant = await tenant_factory(prefix="trot")
    async with db.tenant(tenant.slug) as s:
        first = await service.rotate_secret(_admin_ctx(s, tenant))
    assert (await post_signed(client, tenant.slug, first, event("ringing", new_id("c")))).status_code == 200
    async with db.tenant(tenant.slug) as s:
        second = await service.rotate_secret(_admin_ctx(s, tenant), grace=timedelta(seconds=2))
    assert second != first
    assert (await post_signed(client, tenant.slug, second, event("ringing", new_id("c")))).status_code == 200
    assert (await post_signed(client, tenant.slug, first, event("ringing", new_id("c")))).status_code == 200
    # Grace over: the old secret stops working (its expiry is honoured from the cache too).
    await asyncio.sleep(2.2)
    assert (await post_signed(client, tenant.slug, first, event("ringing", new_id("c")))).status_code == 401
    assert (await post_signed(client, tenant.slug, second, event("ringing", new_id("c")))).status_code == 200
    # Rotating again: only the newest and its immediate predecessor are valid.
    async with db.tenant(tenant.slug) as s:
        third = await service.rotate_secret(_admin_ctx(s, tenant))
        assert len(await service.secret_status(s)) == 2
    assert (await post_signed(client, tenant.slug, third, event("ringing", new_id("c")))).status_code == 200
    assert (await post_signed(client, tenant.slug, second, event("ringing", new_id("c")))).status_code == 200


# --- replays -------------------------------------------------------------------------------------


async def test_same_event_id_is_refused_even_after_redis_forgets(client, tel, redis_client):
    ev = event("ringing", new_id("c"))
    assert (await post_signed(client, tel.slug, tel.secret, ev)).status_code == 200
    again = await post_signed(client, tel.slug, tel.secret, ev)
    assert again.status_code == 409 and "replay" in again.json()["detail"]
    redis_client.delete(service._replay_key(tel.slug, ev["event_id"]))
    durable = await post_signed(client, tel.slug, tel.secret, ev)
    assert durable.status_code == 409 and "replay" in durable.json()["detail"]


async def test_invalid_payload_is_422_and_does_not_burn_the_event_id(client, db, tel):
    ev = event("ringing", new_id("c"))
    resp = await post_signed(client, tel.slug, tel.secret, {**ev, "imei": "bukan imei"})
    assert resp.status_code == 422
    assert any(e["field"] == "imei" for e in resp.json()["errors"])
    for bad in (
        {**ev, "type": "exploded"},
        {**ev, "surprise": 1},
        {**ev, "occurred_at": "2020-01-01T00:00:00Z"},
        {**ev, "occurred_at": "2030-01-01T00:00:00"},
    ):
        assert (await post_signed(client, tel.slug, tel.secret, bad)).status_code == 422, bad
    assert (await post_signed(client, tel.slug, tel.secret, b"{not json")).status_code == 422
    assert (await post_signed(client, tel.slug, tel.secret, b"x" * 20000)).status_code == 413
    assert (await post_signed(client, tel.slug, tel.secret, ev)).status_code == 200
    async with db.tenant(tel.slug) as s:
        assert (
            await s.execute(
                select(func.count())
                .select_from(TelephonyEvent)
                .where(TelephonyEvent.event_id == ev["event_id"])
            )
        ).scalar() == 1


# --- call lifecycle ---------------------------------------------------------------------------------


async def test_ringing_creates_the_call_and_is_announced_to_consoles(client, db, tel, app):
    pubsub = app.state.redis.pubsub()
    await pubsub.subscribe(live.channel(tel.slug))
    await pubsub.get_message(timeout=1)
    call_id = new_id("c")
    resp = await post_signed(client, tel.slug, tel.secret, event("ringing", call_id, caller="0812-3450-0777"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["created"] is True and resp.json()["state"] == "ringing"
    topics = set()
    for _ in range(6):
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if msg:
            topics.add(json.loads(msg["data"])["topic"])
    await pubsub.unsubscribe()
    await pubsub.aclose()
    assert "ringing" in topics
    call = await _call(db, tel.slug, call_id)
    assert call.caller_number == "+6281234500777"
    assert call.called_number == "112" and call.trunk == "tsel-padang-1"
    assert call.telephony_state == "ringing" and call.operator_id is None
    async with db.tenant(tel.slug) as s:
        assert [c.id for c in await service.ringing_calls(s)].count(call.id) == 1
        kinds = (
            (
                await s.execute(
                    select(EventLog.kind).where(EventLog.entity == "call", EventLog.entity_id == call.id)
                )
            )
            .scalars()
            .all()
        )
    assert kinds == ["telephony.ringing"]


async def test_full_sequence_in_order(client, db, tel):
    cid = new_id("c")
    for type_, at, ext in (
        ("ringing", 60, None),
        ("answered", 50, "201"),
        ("transferred", 30, "201"),
        ("ended", 10, None),
    ):
        resp = await post_signed(
            client, tel.slug, tel.secret, event(type_, cid, at=ago(at), operator_extension=ext)
        )
        assert resp.status_code == 200, resp.text
    call = await _call(db, tel.slug, cid)
    assert call.telephony_state == "ended" and call.operator_extension == "201"
    assert call.received_at < call.answered_at < call.transferred_at < call.ended_at
    assert call.silent_suspected is False and call.outcome is None


async def test_out_of_order_events_give_the_same_call(client, db, tel):
    """ended, then answered, then ringing (arrival order) == ringing, answered, ended (event order)."""
    in_order, shuffled = new_id("c"), new_id("c")
    times = {"ringing": ago(90), "answered": ago(80), "ended": ago(20)}
    for type_ in ("ringing", "answered", "ended"):
        await post_signed(client, tel.slug, tel.secret, event(type_, in_order, at=times[type_]))
    for type_ in ("ended", "answered", "ringing"):
        resp = await post_signed(client, tel.slug, tel.secret, event(type_, shuffled, at=times[type_]))
        assert resp.status_code == 200
    a, b = await _call(db, tel.slug, in_order), await _call(db, tel.slug, shuffled)
    for field in ("received_at", "answered_at", "ended_at", "telephony_state", "outcome", "silent_suspected"):
        assert getattr(a, field) == getattr(b, field), field
    assert b.telephony_state == "ended" and b.received_at == times["ringing"]
    # The shuffled call looked missed for a moment (ended without answer); the late 'answered' voids the task.
    async with db.tenant(tel.slug) as s:
        task = (await s.execute(select(CallbackTask).where(CallbackTask.call_id == b.id))).scalar_one()
        assert task.status == "void"
        assert (await s.execute(select(CallbackTask).where(CallbackTask.call_id == a.id))).first() is None


async def test_missed_call_gets_one_open_callback_task(client, db, tel):
    cid = new_id("c")
    await post_signed(
        client, tel.slug, tel.secret, event("ringing", cid, caller="+6281299900001", at=ago(40))
    )
    resp = await post_signed(
        client, tel.slug, tel.secret, event("ended", cid, caller="+6281299900001", at=ago(5))
    )
    assert resp.json()["state"] == "missed"
    call = await _call(db, tel.slug, cid)
    assert call.answered_at is None and call.outcome is None
    async with db.tenant(tel.slug) as s:
        tasks = await service.callback_tasks(s)
        mine = [t for t, c in tasks if t.call_id == call.id]
        assert len(mine) == 1 and mine[0].caller_number == "+6281299900001"


async def test_quick_hangup_after_answer_is_flagged_silent_and_counts_in_reputation(client, db, tel):
    number = "+6281277700001"
    for _ in range(3):
        cid = new_id("c")
        await post_signed(client, tel.slug, tel.secret, event("ringing", cid, caller=number, at=ago(30)))
        await post_signed(client, tel.slug, tel.secret, event("answered", cid, caller=number, at=ago(25)))
        resp = await post_signed(client, tel.slug, tel.secret, event("ended", cid, caller=number, at=ago(20)))
        assert resp.json()["silent_suspected"] is True
    call = await _call(db, tel.slug, cid)
    assert call.outcome == "silent" and call.telephony_state == "ended"
    # A long conversation is not silent.
    long_call = new_id("c")
    await post_signed(client, tel.slug, tel.secret, event("answered", long_call, caller=number, at=ago(200)))
    await post_signed(client, tel.slug, tel.secret, event("ended", long_call, caller=number, at=ago(20)))
    assert (await _call(db, tel.slug, long_call)).silent_suspected is False
    async with db.tenant(tel.slug) as s:
        rep = await triage.reputation(s, [number, "+6281200000999"])
    assert rep == {number: 3}
    assert triage.warning_level(rep[number], False) == "repeat"
