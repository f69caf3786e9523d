"""A real arq worker consumes jobs from the real Redis."""
from __future__ import annotations

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from app.worker import WorkerSettings


async def test_worker_runs_a_job(settings):
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    job = await pool.enqueue_job("ping")
    worker = Worker(functions=WorkerSettings.functions, redis_pool=pool, burst=True, poll_delay=0,
                    on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown)
    await worker.main()
    assert await job.result(timeout=5) == "pong"
    await worker.close()
    await pool.aclose()
