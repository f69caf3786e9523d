"""Live updates for consoles: a per-tenant Redis pub/sub channel carrying small change notices.

Anything that changes what an operator or OPD sees (a call logged, a dispatch acknowledged, a
call ringing, an SLA breach) calls ``notify``; the console's SSE endpoint relays the notices and
htmx re-fetches the affected fragment. Works across several app processes and the worker.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from app import namespace
from app.events import after_commit_redis


def channel(tenant_slug: str, redis: Redis | None = None) -> str:
    """The tenant's channel in this deployment's namespace (pub/sub ignores the DB index)."""
    return namespace.key(redis, "live", tenant_slug)


async def notify(redis: Redis, tenant_slug: str, topic: str, data: dict[str, Any] | None = None) -> None:
    """topic: e.g. "calls", "incidents", "dispatches", "ringing", "sla" (the fragment to refresh)."""
    await redis.publish(channel(tenant_slug, redis), _message(topic, data))


def notify_after_commit(
    session, redis: Redis | None, tenant_slug: str, topic: str, data: dict[str, Any] | None = None
) -> None:
    """``notify`` once the session's transaction commits, in that commit's one Redis pipeline
    (``redis`` None: the arq queue's connection)."""
    message = _message(topic, data)
    name = channel(tenant_slug, redis)
    after_commit_redis(session, lambda pipe: pipe.publish(name, message), redis)


def _message(topic: str, data: dict[str, Any] | None) -> str:
    return json.dumps({"topic": topic, "data": data or {}})


async def listen(redis: Redis, tenant_slug: str) -> AsyncIterator[dict[str, Any]]:
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel(tenant_slug, redis))
    try:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                yield json.loads(message["data"])
    finally:
        await pubsub.unsubscribe(channel(tenant_slug, redis))
        await pubsub.aclose()
