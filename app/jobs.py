"""The arq queue as seen from request handlers and services (set by the app's lifespan).

Kept per event loop: a Redis connection belongs to the loop that opened it, and one process can
run several loops (tests run the app in-process AND a live uvicorn server in a thread). Each
loop uses the pool its own lifespan/worker set (a pool set outside any loop is the fallback).
"""
from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import ArqRedis

# One stack of pools per running loop: set_queue(pool) pushes, set_queue(None) pops.
_by_loop: dict[int | None, list[ArqRedis]] = {}


def _loop_key() -> int | None:
    try:
        return id(asyncio.get_running_loop())
    except RuntimeError:
        return None


def set_queue(pool: ArqRedis | None) -> None:
    key = _loop_key()
    stack = _by_loop.setdefault(key, [])
    if pool is not None:
        stack.append(pool)
    elif stack:
        stack.pop()
    if not stack:
        _by_loop.pop(key, None)


def get_queue() -> ArqRedis:
    stack = _by_loop.get(_loop_key()) or _by_loop.get(None)
    if not stack:
        raise RuntimeError("the arq queue is not set up (app lifespan or worker startup sets it)")
    return stack[-1]


async def enqueue(function: str, *args: Any, **kwargs: Any):
    """Enqueue a job; pass ``_job_id`` to make it idempotent and ``_defer_until`` for timers."""
    return await get_queue().enqueue_job(function, *args, **kwargs)
