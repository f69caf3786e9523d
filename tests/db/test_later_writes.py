"""Writes queued with ``Direct.later`` (app.db.direct): sent in ONE pipeline with the next
statement or the commit, in the order given, and never outside their own transaction.

A webhook batch used to wait for PostgreSQL once per statement, its history rows, national
deltas and reputation counters included, and its regency's next batch waited for all of it:
with two web processes the calls' row locks were held across those waits as well. The last test
counts the waits of one batch.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from app.calls.models import Call
from app.config import get_settings
from app.db import uow
from app.db.direct import Direct
from app.telephony.intake import EventQueue
from app.telephony.schemas import CallEventIn
from tests.telephony.conftest import event, new_id

_ADD = Direct(insert(Call.__table__))
_NUMBERS = Direct(select(Call.caller_number).where(Call.caller_number.like(bindparam("prefix"))))


class RoundTrips:
    """How often the client waits for PostgreSQL: a statement outside a pipeline, a pipeline
    (it syncs once, when it is left), an explicit Sync inside one, a COMMIT psycopg sends."""

    def __init__(self, monkeypatch):
        self.count = 0
        self.seen: list[str] = []
        self._inside = 0
        pipeline, execute, commit = (
            psycopg.AsyncConnection.pipeline,
            psycopg.AsyncCursor.execute,
            psycopg.AsyncConnection.commit,
        )
        trips = self

        @asynccontextmanager
        async def counted_pipeline(conn):
            trips.count += 1
            trips.seen.append("<pipeline>")
            trips._inside += 1
            try:
                async with pipeline(conn) as p:
                    yield p
            finally:
                trips._inside -= 1

        async def counted_execute(cur, *args, **kwargs):
            if not trips._inside:
                trips.count += 1
                trips.seen.append(" ".join(str(args[0] if args else "").split())[:90])
            return await execute(cur, *args, **kwargs)

        async def counted_commit(conn):
            if conn.info.transaction_status != TransactionStatus.IDLE:
                trips.count += 1
            return await commit(conn)

        sync = psycopg.AsyncPipeline.sync

        async def counted_sync(p):  # a Sync before the pipeline's own, at its end: one more wait
            trips.count += 1
            trips.seen.append("<sync>")
            return await sync(p)

        monkeypatch.setattr(psycopg.AsyncConnection, "pipeline", counted_pipeline)
        monkeypatch.setattr(psycopg.AsyncPipeline, "sync", counted_sync)
        monkeypatch.setattr(psycopg.AsyncCursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.AsyncConnection, "commit", counted_commit)


def _prefix() -> str:
    return "+62899" + str(uuid.uuid4().int)[:5]


def _row(number: str, **kw) -> dict:
    return {"caller_number": number, "channel": "voice", "language": "id", **kw}


async def _stored(db, slug: str, prefix: str) -> list[str]:
    async with db.tenant(slug) as s:
        return sorted(r.caller_number for r in await _NUMBERS.all(s, {"prefix": prefix + "%"}))


async def test_queued_writes_go_out_with_the_next_statement_in_one_round_trip(db, tenant_a, monkeypatch):
    prefix = _prefix()
    async with db.tenant(tenant_a.slug) as s:
        assert await _NUMBERS.all(s, {"prefix": prefix + "%"}) == []  # the transaction has begun
        trips = RoundTrips(monkeypatch)
        await _ADD.later(s, _row(prefix + "1"))
        await _ADD.later(s, _row(prefix + "2"))
        assert trips.count == 0  # queued, not sent
        seen = await _NUMBERS.all(s, {"prefix": prefix + "%"})
        assert trips.count == 1  # both writes and the read: one wait
        assert sorted(r.caller_number for r in seen) == [prefix + "1", prefix + "2"]  # in order
        await s.rollback()
    assert await _stored(db, tenant_a.slug, prefix) == []  # they were in that transaction only


async def test_what_sqlalchemy_runs_next_sees_the_queued_writes(db, tenant_a):
    prefix = _prefix()
    async with db.tenant(tenant_a.slug) as s:
        await _ADD.later(s, _row(prefix + "1"))
        count = select(func.count()).select_from(Call).where(Call.caller_number.like(prefix + "%"))
        assert (await s.execute(count)).scalar_one() == 1  # ORM/Core statements run after the queue
        s.add(Call(caller_number=prefix + "2", channel="voice", language="id"))
        await _ADD.later(s, _row(prefix + "3"))
        await uow.commit(s)  # the ORM's pending row and the queued one: one transaction
    assert await _stored(db, tenant_a.slug, prefix) == [prefix + "1", prefix + "2", prefix + "3"]


async def test_the_commit_carries_the_queue_in_the_same_round_trip(db, tenant_a, monkeypatch):
    prefix = _prefix()
    async with db.tenant(tenant_a.slug) as s:
        await _NUMBERS.all(s, {"prefix": prefix + "%"})
        await _ADD.later(s, _row(prefix + "1"))
        await _ADD.later(s, _row(prefix + "2"))
        assert await _stored(db, tenant_a.slug, prefix) == []  # another transaction: nothing yet
        trips = RoundTrips(monkeypatch)
        await uow.commit(s)
        assert trips.count == 1  # the writes and COMMIT together
        assert not s.in_transaction()
    assert await _stored(db, tenant_a.slug, prefix) == [prefix + "1", prefix + "2"]


async def test_a_rollback_drops_the_queue_for_good(db, tenant_a):
    prefix = _prefix()
    async with db.tenant(tenant_a.slug) as s:
        await _ADD.later(s, _row(prefix + "1"))
        await s.rollback()
        await _NUMBERS.all(s, {"prefix": prefix + "%"})  # a new transaction, maybe the same connection
        await uow.commit(s)
    for _ in range(3):  # whichever pooled connection comes next: nothing left over to send
        async with db.tenant(tenant_a.slug) as s:
            await _NUMBERS.all(s, {"prefix": prefix + "%"})
            await uow.commit(s)
    assert await _stored(db, tenant_a.slug, prefix) == []


async def test_a_failing_queued_write_fails_the_commit_and_nothing_is_written(db, tenant_a):
    prefix, external = _prefix(), "dup-" + uuid.uuid4().hex[:10]
    async with db.tenant(tenant_a.slug) as s:
        await _NUMBERS.all(s, {"prefix": prefix + "%"})
        await _ADD.later(s, _row(prefix + "1"))
        await _ADD.later(s, _row(prefix + "2", external_id=external))
        await _ADD.later(s, _row(prefix + "3", external_id=external))  # the unique external id again
        with pytest.raises(IntegrityError):
            await uow.commit(s)
        await s.rollback()
    assert await _stored(db, tenant_a.slug, prefix) == []


async def test_a_webhook_batch_waits_for_postgresql_five_times(app, db, tenant_factory, monkeypatch):
    """Four new calls ringing, in one batch: the replay rows, the call upserts, the early-AML
    lookup and the answer clocks are read back (4 waits); the calls' write-back with the history
    rows and the national deltas ride along with the clocks, and the COMMIT is the fifth. (psycopg
    sends BEGIN on its own before the first statement; not counted here.) One statement at a
    time, as before, this batch waited for PostgreSQL 8 times."""
    monkeypatch.setattr(get_settings(), "tenant_cache_ttl_s", 60)  # as deployed: policies cached
    tenant = await tenant_factory(prefix="tlat")
    queue: EventQueue = app.state.telephony
    evs = [
        CallEventIn.model_validate(event("ringing", new_id("c"), caller=f"+62812345{n:05d}"))
        for n in range(4)
    ]
    await queue.submit(tenant, CallEventIn.model_validate(event("ringing", new_id("c"))))  # warm
    trips = RoundTrips(monkeypatch)
    flushes = queue.batcher.flushes
    results = await asyncio.gather(*(queue.submit(tenant, e) for e in evs))
    assert queue.batcher.flushes - flushes == 1 and all(r.created for r in results)
    assert trips.count == 5, trips.seen
    async with db.tenant(tenant.slug) as s:
        stored = await s.execute(select(func.count()).select_from(Call).where(Call.external_id.isnot(None)))
        assert stored.scalar_one() == 5
