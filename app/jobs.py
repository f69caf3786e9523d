"""The arq queue as seen from request handlers and services (set by the app's lifespan)."""
from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

_queue: ArqRedis | None = None


def set_queue(pool: ArqRedis | None) -> None:
    global _queue
    _queue = pool


def get_queue() -> ArqRedis:
    if _queue is None:
        raise RuntimeError("the arq queue is not set up (app lifespan or worker startup sets it)")
    return _queue


async def enqueue(function: str, *args: Any, **kwargs: Any):
    """Enqueue a job; pass ``_job_id`` to make it idempotent and ``_defer_until`` for timers."""
    return await get_queue().enqueue_job(function, *args, **kwargs)
