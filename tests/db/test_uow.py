"""The unit of work and the after-commit rule: notices and timers go out after ANY commit of the
session (not only through app.db.uow.commit), never after a rollback, and a unit of work left
without commit writes nothing."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from app import events
from app.calls.models import Call
from app.db import uow
from app.db.uow import UnitOfWork


@pytest.fixture
async def redis():
    r = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    yield r
    await r.aclose()


def _queue_marker(session, redis, key: str) -> None:
    events.after_commit_redis(session, lambda pipe: pipe.set(key, b"1", ex=60), redis)


async def _eventually(redis, key: str, timeout_s: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await redis.get(key):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_plain_session_commit_still_sends_the_queued_work(db, tenant_a, redis):
    """The bug this rule closes: a service that commits with session.commit() (24 files did)
    silently dropped its live notices and SLA timers."""
    key = f"uow-test:{uuid.uuid4().hex}"
    async with db.tenant(tenant_a.slug) as session:
        ran = asyncio.Event()

        async def action():
            ran.set()

        _queue_marker(session, redis, key)
        events.after_commit(session, action)
        await session.commit()  # not uow.commit
    assert await _eventually(redis, key)
    await asyncio.wait_for(ran.wait(), 2)


async def test_a_rollback_discards_the_queued_work(db, tenant_a, redis):
    key = f"uow-test:{uuid.uuid4().hex}"
    async with db.tenant(tenant_a.slug) as session:
        await session.execute(select(func.count()).select_from(Call))
        _queue_marker(session, redis, key)
        await session.rollback()
        await session.execute(select(func.count()).select_from(Call))
        await uow.commit(session)  # a later commit of the same session must not send it
    await asyncio.sleep(0.1)
    assert await redis.get(key) is None


async def test_the_unit_of_work_commits_waits_for_its_work_and_rolls_back_otherwise(db, tenant_a, redis):
    from app.tenancy.registry import TenantRegistry

    tenant = await TenantRegistry(db.engine).get(tenant_a.slug)
    sent, unsent, failed = (f"uow-test:{uuid.uuid4().hex}" for _ in range(3))

    async def calls() -> int:
        async with db.tenant(tenant_a.slug) as s:
            return (await s.execute(select(func.count()).select_from(Call))).scalar_one()

    before = await calls()
    async with UnitOfWork(db, tenant) as work:
        work.session.add(Call(caller_number="+6281200000001", channel="voice"))
        _queue_marker(work.session, redis, sent)
        await work.commit()
        assert await redis.get(sent)  # sent before commit() returned, not some time later
    async with UnitOfWork(db, tenant) as work:  # left without commit
        work.session.add(Call(caller_number="+6281200000002", channel="voice"))
        await work.session.flush()
        _queue_marker(work.session, redis, unsent)
    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, tenant) as work:
            work.session.add(Call(caller_number="+6281200000003", channel="voice"))
            await work.session.flush()
            _queue_marker(work.session, redis, failed)
            raise RuntimeError("a rule refused it")
    await asyncio.sleep(0.1)
    assert await calls() == before + 1
    assert await redis.get(unsent) is None and await redis.get(failed) is None


async def test_a_savepoint_neither_sends_nor_discards_the_outer_work(db, tenant_a, redis):
    """SQLAlchemy reports a SAVEPOINT release as after_commit and its rollback as after_rollback:
    neither may send the work early nor throw away what the outer transaction queued."""
    key = f"uow-test:{uuid.uuid4().hex}"
    async with db.tenant(tenant_a.slug) as session:
        await session.execute(select(func.count()).select_from(Call))
        _queue_marker(session, redis, key)
        async with session.begin_nested():  # released
            await session.execute(select(func.count()).select_from(Call))
        await asyncio.sleep(0.1)
        assert await redis.get(key) is None  # not sent before the real commit
        savepoint = await session.begin_nested()
        await session.execute(select(func.count()).select_from(Call))
        await savepoint.rollback()
        await uow.commit(session)
    assert await redis.get(key)  # the outer work survived the savepoint rollback and went out
