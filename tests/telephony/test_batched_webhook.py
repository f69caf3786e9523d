"""Webhook events applied together (app.telephony.intake): a batch behaves as its events one by one.

``asyncio.gather`` of ``queue.submit`` calls puts them all in ONE batch (each submit queues its
event before the flush task first runs), so these tests know what was batched; the last one
goes through HTTP, where batching depends on timing, and checks only the outcome.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError

from app.calls.models import Call, EventLog
from app.calls.service import Ctx
from app.core.principal import Principal
from app.db.tenancy import schema_for
from app.sla.models import SlaClock
from app.telephony import service
from app.telephony.intake import EventQueue
from app.telephony.models import CallbackTask, TelephonyEvent
from app.telephony.schemas import CallEventIn
from tests.telephony.conftest import ago, event, new_id, post_signed


def _ev(type_: str, call_id: str, **kw) -> CallEventIn:
    return CallEventIn.model_validate(event(type_, call_id, **kw))


@pytest.fixture
async def batched(db, tenant_factory):
    """A tenant of its own (a trigger is installed on its calls table) with a webhook secret."""
    tenant = await tenant_factory(prefix="tbat")
    async with db.tenant(tenant.slug) as s:
        ctx = Ctx(
            session=s,
            tenant=tenant,
            actor=Principal(kind="tenant", user_id=None, role="admin", name="setup"),
        )
        secret = await service.rotate_secret(ctx)
    return dataclasses.replace(tenant, secret=secret)


async def _call(db, slug, external_id) -> Call:
    async with db.tenant(slug) as s:
        return (await s.execute(select(Call).where(Call.external_id == external_id))).scalar_one()


async def _count(db, slug, model, *where) -> int:
    async with db.tenant(slug) as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def _answer_clock(db, slug, call_pk: int) -> SlaClock:
    async with db.tenant(slug) as s:
        return (
            await s.execute(
                select(SlaClock).where(
                    SlaClock.kind == "answer", SlaClock.subject == "call", SlaClock.subject_id == call_pk
                )
            )
        ).scalar_one()


async def test_one_bad_event_in_a_batch_fails_alone_and_its_id_is_not_burnt(
    app, client, db, batched, redis_client
):
    queue: EventQueue = app.state.telephony
    schema = schema_for(batched.slug)
    async with db.engine.begin() as conn:  # PostgreSQL itself refuses this one call (class 22: bad data)
        await conn.execute(
            text(
                f'CREATE FUNCTION "{schema}".poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
                "RAISE EXCEPTION 'poisoned call' USING ERRCODE = '22023'; END $$"
            )
        )
        await conn.execute(
            text(
                f'CREATE TRIGGER poison BEFORE INSERT ON "{schema}".calls FOR EACH ROW '
                f"WHEN (NEW.external_id LIKE 'poison-%') EXECUTE FUNCTION \"{schema}\".poison()"
            )
        )
    good1, good2 = _ev("ringing", new_id("c")), _ev("ringing", new_id("c"))
    bad_body = event("ringing", new_id("poison"))
    bad = CallEventIn.model_validate(bad_body)
    before = (queue.batcher.flushes, queue.batcher.items)
    results = await asyncio.gather(
        *(queue.submit(batched, e) for e in (good1, bad, good2)), return_exceptions=True
    )
    # One batch of three failed, then each was tried alone: two written, one refused.
    assert (queue.batcher.flushes - before[0], queue.batcher.items - before[1]) == (4, 6)
    assert isinstance(results[1], DataError), results[1]
    assert results[0].created and results[2].created
    assert results[0].call.telephony_state == "ringing"
    for ok in (good1, good2):
        assert (await _call(db, batched.slug, ok.call_id)).telephony_state == "ringing"
        assert redis_client.get(service._replay_key(batched.slug, ok.event_id)) is not None
    assert await _count(db, batched.slug, TelephonyEvent, TelephonyEvent.event_id == bad.event_id) == 0
    assert redis_client.get(service._replay_key(batched.slug, bad.event_id)) is None  # released

    # Over HTTP the same refusal is a 422 (bad data), and once the cause is gone the retry goes through.
    resp = await post_signed(client, batched.slug, batched.secret, bad_body)
    assert resp.status_code == 422, resp.text
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP TRIGGER poison ON "{schema}".calls'))
    resp = await post_signed(client, batched.slug, batched.secret, bad_body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["created"] is True


async def test_out_of_order_events_of_one_call_in_one_batch_equal_ordered_arrival(app, db, batched):
    queue: EventQueue = app.state.telephony
    times = {"ringing": ago(90), "answered": ago(80), "ended": ago(20)}
    ordered, shuffled = new_id("c"), new_id("c")
    for type_ in ("ringing", "answered", "ended"):  # one by one, each committed before the next
        await queue.submit(batched, _ev(type_, ordered, at=times[type_]))
    flushes = queue.batcher.flushes
    arrival = ("ended", "answered", "ringing")
    results = await asyncio.gather(
        *(queue.submit(batched, _ev(t, shuffled, at=times[t], operator_extension=None)) for t in arrival)
    )
    assert queue.batcher.flushes - flushes == 1  # really one batch
    # Each event is answered with the call as it stood after it, in arrival order.
    assert [r.call.telephony_state for r in results] == ["missed", "ended", "ended"]
    assert [r.created for r in results] == [True, False, False]

    a, b = await _call(db, batched.slug, ordered), await _call(db, batched.slug, shuffled)
    for field in ("received_at", "answered_at", "ended_at", "telephony_state", "outcome", "silent_suspected"):
        assert getattr(a, field) == getattr(b, field), field
    assert b.received_at == times["ringing"] and b.telephony_state == "ended"
    # The answer clock starts when the call rang and stops at the answer, as for ordered arrival.
    ca, cb = await _answer_clock(db, batched.slug, a.id), await _answer_clock(db, batched.slug, b.id)
    assert (cb.started_at, cb.stopped_at, cb.met, cb.close_reason) == (
        ca.started_at,
        ca.stopped_at,
        ca.met,
        ca.close_reason,
    )
    assert cb.started_at == times["ringing"] and cb.stopped_at == times["answered"]
    async with db.tenant(batched.slug) as s:
        kinds = (
            (
                await s.execute(
                    select(EventLog.kind)
                    .where(EventLog.entity == "call", EventLog.entity_id == b.id)
                    .order_by(EventLog.id)
                )
            )
            .scalars()
            .all()
        )
        # As one by one: the call looked missed after 'ended', the late 'answered' voided the task.
        task = (await s.execute(select(CallbackTask).where(CallbackTask.call_id == b.id))).scalar_one()
        assert (await s.execute(select(CallbackTask).where(CallbackTask.call_id == a.id))).first() is None
    assert kinds == [f"telephony.{t}" for t in arrival]
    assert task.status == "void"


async def test_replay_within_a_batch_and_after_redis_forgot(app, db, batched):
    queue: EventQueue = app.state.telephony
    cid = new_id("c")
    ev, other = _ev("ringing", cid), _ev("ringing", new_id("c"))
    results = await asyncio.gather(
        *(queue.submit(batched, e) for e in (ev, ev, other)), return_exceptions=True
    )
    assert results[0].created and results[2].created
    assert isinstance(results[1], service.Replay) and "replay" in results[1].message
    assert await _count(db, batched.slug, TelephonyEvent, TelephonyEvent.event_id == ev.event_id) == 1
    call = await _call(db, batched.slug, cid)
    assert (
        await _count(db, batched.slug, EventLog, EventLog.entity == "call", EventLog.entity_id == call.id)
        == 1
    )

    # Redis forgot (or is down): the stored id refuses the replay durably, the rest of its batch applies.
    forgetful = EventQueue(db, redis=None)
    later = _ev("ended", cid, at=ago(0))
    results = await asyncio.gather(
        *(forgetful.submit(batched, e) for e in (ev, later, ev)), return_exceptions=True
    )
    assert isinstance(results[0], service.Replay) and isinstance(results[2], service.Replay)
    assert results[1].call.telephony_state == "missed"
    assert (
        await _count(db, batched.slug, EventLog, EventLog.entity == "call", EventLog.entity_id == call.id)
        == 2
    )
    assert await _count(db, batched.slug, TelephonyEvent, TelephonyEvent.event_id == ev.event_id) == 1


async def test_concurrent_signed_events_over_http_are_each_applied_once(client, db, batched):
    rng = random.Random(25)
    calls = {new_id("c"): rng.random() < 0.5 for _ in range(6)}  # call id → answered?
    bodies = []
    for cid, answered in calls.items():
        bodies.append(event("ringing", cid, at=ago(60)))
        if answered:
            bodies.append(event("answered", cid, at=ago(50), operator_extension="201"))
        bodies.append(event("ended", cid, at=ago(5)))
    rng.shuffle(bodies)
    bodies.append(bodies[0])  # and one replay among them
    responses = await asyncio.gather(*(post_signed(client, batched.slug, batched.secret, b) for b in bodies))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (len(bodies) - 1) + [409], [r.text for r in responses if r.status_code != 200]
    for cid, answered in calls.items():
        call = await _call(db, batched.slug, cid)
        assert call.telephony_state == ("ended" if answered else "missed"), cid
        assert call.received_at == min(_ts(b) for b in bodies if b["call_id"] == cid)
        assert (
            await _count(
                db, batched.slug, SlaClock, SlaClock.subject_id == call.id, SlaClock.kind == "answer"
            )
            == 1
        )
        open_tasks = await _count(
            db, batched.slug, CallbackTask, CallbackTask.call_id == call.id, CallbackTask.status == "open"
        )
        assert open_tasks == (0 if answered else 1)
    ids = {b["event_id"] for b in bodies}
    assert await _count(db, batched.slug, TelephonyEvent, TelephonyEvent.event_id.in_(ids)) == len(ids)


def _ts(body: dict) -> datetime:
    return datetime.fromisoformat(body["occurred_at"])


async def test_concurrent_requests_share_one_secret_reload():
    """An expired secret cache is reloaded once for all the requests waiting (not a query each:
    the webhook's reads share a pool of four connections)."""
    from app.telephony.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SecretCache, signed_headers

    cache, queries = SecretCache(ttl_s=60), []

    async def load(now):
        queries.append(now)
        await asyncio.sleep(0.01)
        return [("s3cret-" + "x" * 20, None)]

    body = b'{"x": 1}'
    headers = signed_headers("s3cret-" + "x" * 20, body)
    await asyncio.gather(
        *(
            cache.verify(load, "slug", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
            for _ in range(10)
        )
    )
    assert len(queries) == 1


async def test_early_positions_of_a_batch_go_to_their_calls_in_one_statement(app, client, db, batched):
    """AML that overtook the ringing events of several calls: one flush attaches each position to
    its own call (by number, or by IMEI for a call without a number), and a position that two
    calls of the batch could claim (one handset, two calls) goes to the earlier call only."""
    from sqlalchemy import event as sa_event
    from sqlalchemy.engine import Engine

    from app.telephony.aml import format_message
    from app.telephony.models import AmlLocation
    from tests.unit.test_aml_parsing import _solok

    a, b = "+6281234577701", "+6281234577702"
    imei = "356938035641111"
    sent = [
        (a, _solok(lat=-0.71, imei="111111111111111", imsi=None)),
        (b, _solok(lat=-0.72, imei="222222222222222", imsi=None)),
        (None, _solok(lat=-0.73, imei=imei, imsi=None)),  # no number: matched by IMEI
    ]
    for number, msg in sent:
        body = {"message": format_message(msg), **({"caller_number": number} if number else {})}
        resp = await post_signed(client, batched.slug, batched.secret, body, path="aml")
        assert resp.status_code == 201 and resp.json()["attached"] is False
    first, second, third, fourth = (new_id("c") for _ in range(4))
    evs = [
        _ev("ringing", first, caller=a),
        _ev("ringing", second, caller=b),
        _ev("ringing", third, caller="", imei=imei),
        _ev("ringing", fourth, caller="", imei=imei),  # the same handset again: nothing left for it
    ]
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        if "aml_locations" in statement and statement.lstrip().upper().startswith("UPDATE"):
            statements.append(statement)

    queue: EventQueue = app.state.telephony
    sa_event.listen(Engine, "before_cursor_execute", seen)  # every engine: the app's own too
    try:
        results = await asyncio.gather(*(queue.submit(batched, e) for e in evs))
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
    assert all(r.created for r in results)
    got = {cid: (await _call(db, batched.slug, cid)).location_lat for cid in (first, second, third, fourth)}
    assert got == {first: -0.71, second: -0.72, third: -0.73, fourth: None}
    async with db.tenant(batched.slug) as s:
        owners = (
            (await s.execute(select(AmlLocation.call_id).where(AmlLocation.imei == imei))).scalars().all()
        )
    assert owners == [(await _call(db, batched.slug, third)).id]
    assert len(statements) <= 1, statements  # not one statement per new call (Direct's is not seen)
