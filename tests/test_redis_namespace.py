"""Two deployments sharing one Redis server never see each other's live notices, queues or
keys: every name the app builds carries the deployment's namespace (REDIS_PREFIX, or derived
from the database name and the Redis DB index). Pub/sub channels ignore the DB index, which is
how notices used to leak."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from app import live, namespace
from tests.conftest import REDIS_BASE, REDIS_INDEX, csrf_of, login


@asynccontextmanager
async def deployment(settings, **update):
    from app.main import create_app

    application = create_app(settings.model_copy(update=update))
    async with application.router.lifespan_context(application):
        yield application


async def _received(app, slug: str, during) -> list:
    """Notices on ``app``'s channel of ``slug`` while ``during()`` runs (and 0.5 s after)."""
    pubsub = app.state.redis.pubsub()
    await pubsub.subscribe(live.channel(slug, app.state.redis))
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    await during()
    got, deadline = [], asyncio.get_running_loop().time() + 0.5
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        if msg is not None:
            got.append(msg["data"])
    await pubsub.aclose()
    return got


async def _log_a_call(app, tenant, user) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        assert (await login(c, tenant.slug, user.email)).status_code == 303
        c.headers["x-csrf-token"] = await csrf_of(c, f"/t/{tenant.slug}/login")
        resp = await c.post(f"/api/v1/t/{tenant.slug}/calls", json={"caller_number": "081234567001"})
        assert resp.status_code == 201, resp.text


@pytest.fixture(scope="module")
def other_redis_index():
    """Another free DB index of the same Redis server (claimed like conftest claims its own)."""
    import redis

    for index in range(1, 16):
        r = redis.Redis.from_url(f"{REDIS_BASE}/{index}")
        if index != REDIS_INDEX and r.set("siaga112:test-claim", "ns", nx=True, ex=600):
            break
        r.close()
    else:
        pytest.skip("no free Redis DB index")
    yield index
    r.flushdb()
    r.close()


async def test_deployments_on_other_db_indexes_do_not_hear_each_other(
    settings, tenant_a, user_factory, other_redis_index
):
    user = await user_factory(tenant_a, "operator")
    async with (
        deployment(settings) as a,
        deployment(settings, redis_url=f"{REDIS_BASE}/{other_redis_index}") as b,
    ):
        assert namespace.of(a.state.redis) != namespace.of(b.state.redis)
        heard_by_b = await _received(b, tenant_a.slug, lambda: _log_a_call(a, tenant_a, user))
        heard_by_a = await _received(a, tenant_a.slug, lambda: _log_a_call(a, tenant_a, user))
    assert heard_by_b == []
    assert heard_by_a, "the deployment's own consoles must still get the notice"


async def test_redis_prefix_separates_channels_and_queues_on_one_db_index(settings, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    async with (
        deployment(settings, redis_prefix="dep-a") as a,
        deployment(settings, redis_prefix="dep-b") as b,
    ):
        assert live.channel(tenant_a.slug, a.state.redis) == f"dep-a:live:{tenant_a.slug}"
        heard_by_b = await _received(b, tenant_a.slug, lambda: _log_a_call(a, tenant_a, user))
        assert heard_by_b == []
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        await client.delete("dep-a:arq:queue")
        async with deployment(settings, redis_prefix="dep-a") as a:
            await _log_a_call(a, tenant_a, user)
        # The call's SLA answer timer went to dep-a's own queue, not arq's shared default.
        mine = await client.zrange("dep-a:arq:queue", 0, -1)
        assert mine
        assert [job for job in mine if await client.zscore("arq:queue", job) is not None] == []
    finally:
        await client.delete("dep-a:arq:queue")
        await client.aclose()


async def _tick(ctx) -> None:
    return None


async def test_arq_jobs_of_two_deployments_on_one_redis_db_are_apart(settings):
    """Same Redis server AND DB index, two REDIS_PREFIXes: one job id (an SLA timer, a delivery)
    is queued by both and run by each one's own worker only; unique cron ticks do not collide."""
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.cron import cron

    from app import jobs
    from app.worker import ResilientWorker, WorkerSettings

    pools = []
    for prefix in ("ns-test-a", "ns-test-b"):
        s = settings.model_copy(update={"redis_prefix": prefix})
        pool = await create_pool(
            RedisSettings.from_dsn(settings.redis_url), default_queue_name=namespace.queue_name(s)
        )
        pools.append(namespace.tag(pool, s))
    a, b = pools
    try:
        for pool in pools:
            jobs.set_queue(pool)
            try:
                assert await jobs.enqueue("ping", _job_id="same-id") is not None  # both queued
            finally:
                jobs.set_queue(None)
        assert await a.zcard(a.default_queue_name) == 1
        assert await b.zcard(b.default_queue_name) == 1
        worker = ResilientWorker(
            functions=WorkerSettings.functions,
            redis_pool=a,
            queue_name=a.default_queue_name,
            burst=True,
            poll_delay=0,
            on_startup=WorkerSettings.on_startup,
            on_shutdown=WorkerSettings.on_shutdown,
        )
        await worker.main()
        await worker.close()
        assert worker.jobs_complete == 1
        assert await b.zcard(b.default_queue_name) == 1  # b's job is not a's worker's business
        job_ids = set()
        for pool in pools:
            w = ResilientWorker(
                functions=[],
                cron_jobs=[cron(_tick, name="cron:x", second={0}, unique=True)],
                redis_pool=pool,
                queue_name=pool.default_queue_name,
            )
            job_ids.add(w.cron_jobs[0].name)
            assert set(w.functions) == {w.cron_jobs[0].name}
        assert len(job_ids) == 2
    finally:
        for pool in pools:
            await pool.delete(pool.default_queue_name)
            for k in await pool.keys("arq:*ns-test-*"):
                await pool.delete(k)
            await pool.aclose()
