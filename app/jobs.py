"""The arq queue as seen from request handlers and services (set by the app's lifespan).

Kept per event loop: a Redis connection belongs to the loop that opened it, and one process can
run several loops (tests run the app in-process AND a live uvicorn server in a thread). Each
loop uses the pool its own lifespan/worker set (a pool set outside any loop is the fallback).
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms

from app import namespace

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


# The registered enqueue script of each pool (EVALSHA after the first call).
_scripts: weakref.WeakKeyDictionary[ArqRedis, Any] = weakref.WeakKeyDictionary()

# arq's enqueue_job does WATCH, EXISTS, then MULTI/PSETEX/ZADD/EXEC: three round trips on every
# call intake (the SLA answer timer). The same checks and writes as one atomic script: one trip.
_ENQUEUE_LUA = """
if redis.call('exists', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('psetex', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


async def enqueue(
    function: str,
    *args: Any,
    _job_id: str | None = None,
    _defer_until: datetime | None = None,
    _defer_by: float | timedelta | None = None,
    **kwargs: Any,
) -> str | None:
    """Enqueue an arq job (the format and keys of ``ArqRedis.enqueue_job``); pass ``_job_id`` to make
    it idempotent, ``_defer_until``/``_defer_by`` for timers. The job id, or None if that id is
    queued or has a result already."""
    pool = get_queue()
    script = _scripts.get(pool)
    if script is None:
        script = _scripts[pool] = pool.register_script(_ENQUEUE_LUA)
    job_id, keys, argv = _job(pool, function, args, kwargs, _job_id, _defer_until, _defer_by)
    queued = await script(keys=keys, args=argv)
    return job_id if queued else None


def enqueue_into(
    pipeline: Any,
    function: str,
    *args: Any,
    _job_id: str | None = None,
    _defer_until: datetime | None = None,
    _defer_by: float | timedelta | None = None,
    **kwargs: Any,
) -> None:
    """``enqueue`` as one command of a Redis pipeline (``events.after_commit_redis``); the result
    is not looked at. EVAL, not EVALSHA: a pipeline would check the script cache first."""
    _, keys, argv = _job(get_queue(), function, args, kwargs, _job_id, _defer_until, _defer_by)
    pipeline.eval(_ENQUEUE_LUA, len(keys), *keys, *argv)


def _job(
    pool: ArqRedis,
    function: str,
    args: tuple,
    kwargs: dict,
    job_id: str | None,
    defer_until: datetime | None,
    defer_by: float | timedelta | None,
) -> tuple[str, list, list]:
    """The job's id, and the keys and arguments of _ENQUEUE_LUA (arq's own format)."""
    job_id = namespace.job_id(pool.default_queue_name, job_id or uuid4().hex)
    now = timestamp_ms()
    if defer_until is not None:
        score = to_unix_ms(defer_until)
    elif defer_by:
        score = now + to_ms(defer_by)
    else:
        score = now
    expires_ms = score - now + pool.expires_extra_ms
    payload = serialize_job(function, args, kwargs, None, now, serializer=pool.job_serializer)
    return (
        job_id,
        [job_key_prefix + job_id, result_key_prefix + job_id, pool.default_queue_name],
        [max(1, expires_ms), payload, score, job_id],
    )
