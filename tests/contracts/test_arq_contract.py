"""Contract: app/jobs.py writes arq's job format itself (one Lua script instead of enqueue_job's
three round trips). Written against arq 0.26.3. If arq moves, these tests say what to re-check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import deserialize_job

from app import jobs, namespace
from tests.sla.conftest import _reclaim

WRITTEN_AGAINST = "0.26.3"
RECHECK = (
    f"app/jobs.py re-implements ArqRedis.enqueue_job of arq {WRITTEN_AGAINST}: compare arq's "
    "enqueue_job (keys job_key_prefix+id and result_key_prefix+id, the sorted-set queue scored in ms, "
    "serialize_job's field order, expires_extra_ms) with _job() and _ENQUEUE_LUA, then update "
    "WRITTEN_AGAINST here and the arq bound in pyproject.toml."
)


def test_arq_is_the_version_the_job_format_was_written_against():
    assert version("arq") == WRITTEN_AGAINST, RECHECK


@pytest.fixture
async def two_pools(settings):
    base = RedisSettings.from_dsn(settings.redis_url)
    ours = await create_pool(base)
    theirs = await create_pool(base)
    await ours.flushdb()
    await _reclaim(ours)
    jobs.set_queue(ours)
    yield ours, theirs
    jobs.set_queue(None)
    await ours.flushdb()
    await _reclaim(ours)
    await ours.aclose()
    await theirs.aclose()


async def test_a_job_we_write_is_the_job_arq_writes(two_pools):
    ours, theirs = two_pools
    due = datetime.now(UTC) + timedelta(minutes=5)
    our_id = await jobs.enqueue("sla_timer", "kota_solok", 7, _job_id="ours", _defer_until=due)
    assert our_id == namespace.job_id(default_queue_name, "ours")  # namespaced (app.namespace)
    await theirs.enqueue_job("sla_timer", "kota_solok", 7, _job_id="theirs", _defer_until=due)

    mine = deserialize_job(await ours.get(job_key_prefix + our_id))
    arqs = deserialize_job(await ours.get(job_key_prefix + "theirs"))
    assert (mine.function, mine.args, mine.kwargs, mine.job_try) == (
        arqs.function,
        arqs.args,
        arqs.kwargs,
        arqs.job_try,
    ), RECHECK
    assert abs((mine.enqueue_time - arqs.enqueue_time).total_seconds()) < 5, RECHECK

    scores = dict(await ours.zrange(default_queue_name, 0, -1, withscores=True))
    assert set(scores) == {our_id.encode(), b"theirs"}, RECHECK
    assert scores[our_id.encode()] == scores[b"theirs"], RECHECK  # both scored at the due time in ms

    ttl_ours, ttl_theirs = (
        await ours.pttl(job_key_prefix + our_id),
        await ours.pttl(job_key_prefix + "theirs"),
    )
    assert abs(ttl_ours - ttl_theirs) < 5_000, RECHECK


async def test_arq_refuses_a_second_job_with_our_id(two_pools):
    """Idempotency by job id holds across both writers (same keys)."""
    _, theirs = two_pools
    shared = await jobs.enqueue("ping", _job_id="shared")
    assert shared == namespace.job_id(default_queue_name, "shared")
    assert await theirs.enqueue_job("ping", _job_id=shared) is None, RECHECK


def test_resilient_worker_overrides_what_arq_still_calls():
    """app.worker.ResilientWorker wraps arq's private ``Worker._poll_iteration`` (the poll loop's
    step, where a lost Redis surfaced) and pre-creates ``Worker._pool`` before ``main``; if arq
    renames either, the worker silently loses its outage handling."""
    import inspect

    from arq.worker import Worker

    main_source = inspect.getsource(Worker.main)
    assert "self._pool is None" in main_source and "await self._poll_iteration()" in main_source, RECHECK
    assert inspect.iscoroutinefunction(Worker._poll_iteration)
