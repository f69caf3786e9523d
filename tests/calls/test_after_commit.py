"""After an intake commits, its Redis work (the consoles' live notice and the SLA answer timer) goes
out together in one pipeline; if Redis is down, the call is still logged and the failure logged."""

from __future__ import annotations

import asyncio
import json
import logging

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import func, select

from app import jobs, live, namespace
from app.calls import service
from app.calls.models import Call
from app.calls.schemas import CallCreate
from app.core.principal import Principal
from app.sla.models import SlaClock

# `app` in a test's arguments: building it registers the domain-event handlers (SLA clocks …).


def _ctx(session, tenant, user, redis):
    who = Principal(
        kind="tenant", user_id=user.id, role=user.role, name=user.full_name, tenant_slug=tenant.slug
    )
    return service.Ctx(session=session, tenant=tenant, actor=who, redis=redis)


async def test_live_notice_and_sla_timer_are_sent_after_the_commit(
    app, db, settings, tenant_factory, user_factory
):
    tenant = await tenant_factory()
    user = await user_factory(tenant)
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    jobs.set_queue(pool)
    pubsub = pool.pubsub()
    await pubsub.subscribe(live.channel(tenant.slug))
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    try:
        async with db.tenant(tenant.slug) as s:
            call = await service.create_call(
                _ctx(s, tenant, user, pool), CallCreate(caller_number="+6281211112222")
            )
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message is not None and json.loads(message["data"])["topic"] == "calls"

        async with db.tenant(tenant.slug) as s:
            clock_id = (
                await s.execute(
                    select(SlaClock.id).where(SlaClock.call_id == call.id, SlaClock.kind == "answer")
                )
            ).scalar_one()
        queued = [j.decode() for j in await pool.zrange(pool.default_queue_name, 0, -1)]
        assert [
            j
            for j in queued
            if j.startswith(namespace.job_id(pool.default_queue_name, f"sla:{tenant.slug}:{clock_id}:"))
        ], queued
    finally:
        jobs.set_queue(None)
        await pubsub.aclose()
        await pool.aclose()


async def test_redis_down_after_commit_keeps_the_call_and_logs(app, db, tenant_factory, user_factory, caplog):
    tenant = await tenant_factory()
    user = await user_factory(tenant)
    dead = ArqRedis.from_url("redis://127.0.0.1:9", socket_connect_timeout=0.5)  # nothing listens there
    jobs.set_queue(dead)
    try:
        with caplog.at_level(logging.ERROR, logger="app.events"):
            async with db.tenant(tenant.slug) as s:
                call = await asyncio.wait_for(
                    service.create_call(
                        _ctx(s, tenant, user, dead), CallCreate(caller_number="+6281233334444")
                    ),
                    10,
                )
        assert "after-commit Redis writes failed" in caplog.text
    finally:
        jobs.set_queue(None)
        await dead.aclose()
    async with db.tenant(tenant.slug) as s:  # committed before Redis was tried
        assert (
            await s.execute(select(func.count()).select_from(Call).where(Call.id == call.id))
        ).scalar_one() == 1
        # the SLA clock is in PostgreSQL, where the reconciliation job finds it to re-queue its timer
        assert (
            await s.execute(select(func.count()).select_from(SlaClock).where(SlaClock.call_id == call.id))
        ).scalar_one() == 1
