"""A real arq worker consumes jobs from the real Redis."""

from __future__ import annotations

from datetime import UTC

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from app.worker import WorkerSettings


async def test_worker_runs_a_job(settings):
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    job = await pool.enqueue_job("ping")
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_pool=pool,
        burst=True,
        poll_delay=0,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
    )
    await worker.main()
    assert await job.result(timeout=5) == "pong"
    await worker.close()
    await pool.aclose()


async def test_one_trip_enqueue_is_idempotent_deferred_and_run_by_arq(settings):
    """app.jobs.enqueue writes arq's own job format: same id twice queues once, a deferred job
    scores at its due time, and a real worker runs it."""
    from datetime import datetime, timedelta

    from arq.jobs import Job

    from app import jobs

    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    jobs.set_queue(pool)
    from app import namespace

    once, later = (namespace.job_id(pool.default_queue_name, n) for n in ("t-once", "t-later"))
    try:
        assert await jobs.enqueue("ping", _job_id="t-once") == once
        assert await jobs.enqueue("ping", _job_id="t-once") is None
        due = datetime.now(UTC) + timedelta(hours=1)
        assert await jobs.enqueue("ping", _job_id="t-later", _defer_until=due) == later
        score = await pool.zscore(pool.default_queue_name, later)
        assert abs(score - due.timestamp() * 1000) < 5
        await pool.zrem(pool.default_queue_name, later)  # a burst worker would wait for it
        worker = Worker(
            functions=WorkerSettings.functions,
            redis_pool=pool,
            burst=True,
            poll_delay=0,
            on_startup=WorkerSettings.on_startup,
            on_shutdown=WorkerSettings.on_shutdown,
        )
        await worker.main()
        assert await Job(once, pool).result(timeout=5) == "pong"
        assert await jobs.enqueue("ping", _job_id="t-once") is None  # a result exists: still not re-queued
        await worker.close()
    finally:
        await pool.delete("arq:job:" + later)
        await pool.zrem(pool.default_queue_name, later)
        jobs.set_queue(None)
        await pool.aclose()
