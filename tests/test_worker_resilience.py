"""The worker survives outages: losing Redis (or PostgreSQL) is logged and retried with backoff,
never fatal; SLA timer jobs that meet a database outage are retried within seconds (arq Retry),
not left to the next reconciliation; ``siaga112 serve`` restarts a worker that died."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from arq import Retry, create_pool
from arq.connections import RedisSettings
from arq.jobs import Job

from app import namespace
from tests.servers import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent


async def test_sla_timer_meeting_a_database_outage_is_retried_within_seconds(settings, tenant_a):
    from app.db.database import Database
    from app.db.engine import make_async_engine
    from app.sla.jobs import TRANSIENT_RETRY_MAX_S, sla_check

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/siaga112"
    db = Database(make_async_engine(settings, url=dead, pool_size=1, max_overflow=0))
    try:
        for job_try in (1, 4, 50):
            with pytest.raises(Retry) as caught:
                await sla_check({"db": db, "job_try": job_try}, tenant_a.slug, 1)
            assert 0 < caught.value.defer_score <= TRANSIENT_RETRY_MAX_S * 1000
    finally:
        await db.dispose()


async def test_a_bug_is_not_retried_as_an_outage(db, tenant_a):
    from app.sla.jobs import sla_check

    with pytest.raises(Exception) as caught:  # an unknown tenant schema: a real error, not an outage
        await sla_check({"db": db, "job_try": 1}, "no_such_tenant", 1)
    assert not isinstance(caught.value, Retry)


async def test_redis_lost_while_watching_is_an_outage_not_a_bug():
    """redis-py answers a connection lost under WATCH with a WatchError raised while handling the
    ConnectionError. arq's job start WATCHes every job's key; taken for a bug, it ended the worker
    whenever Redis restarted while timers were due."""
    import redis.asyncio as aioredis
    from redis.exceptions import WatchError

    from app.outage import which

    server = RedisServer().start()
    client = aioredis.Redis.from_url(server.url)
    try:
        async with client.pipeline(transaction=True) as pipe:
            await pipe.watch("siaga112:in-progress:job")
            server.stop()
            with pytest.raises(WatchError) as caught:
                await pipe.exists("siaga112:in-progress:job")
        assert which(caught.value) == "redis"
        assert which(WatchError("watched key changed")) is None  # a lost race is not an outage
        try:
            try:
                raise ConnectionError("redis gone")
            except ConnectionError:
                raise KeyError("a bug while handling it") from None
        except KeyError as bug:
            assert which(bug) is None
    finally:
        await client.aclose()
        server.stop()


async def test_worker_survives_redis_restarting_while_it_starts_timers(settings, tmp_path):
    """The worker keeps running through a Redis restart while SLA-sized bursts of jobs start and
    finish (the fault run's case), notices within seconds that Redis is back (the catch-up
    reconciliation that rebuilds the lost timers starts then), and runs jobs again."""
    redis_server = RedisServer().start()
    env = {**os.environ, "REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "worker.log"
    proc = _worker_process(env, log)
    queue = namespace.queue_name(settings.model_copy(update={"redis_url": redis_server.url}))
    try:
        _wait_for(lambda: "Starting worker" in log.read_text(), 60, "the worker to start")
        for _round in range(5):  # kill Redis while the worker is busy starting jobs
            pool = await create_pool(RedisSettings.from_dsn(redis_server.url), default_queue_name=queue)
            try:
                for _ in range(400):
                    await pool.enqueue_job("ping")
            finally:
                await pool.aclose()
            await asyncio.sleep(0.05)
            redis_server.stop()
            await asyncio.sleep(0.5)
            redis_server.start()
            # Jobs that finished during the outage must not read as outages once Redis is back.
            back = time.monotonic()
            while log.read_text().count("dependencies answer again") <= _round:
                assert proc.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() - back < 3, "worker still backing off 3 s after Redis returned"
                await asyncio.sleep(0.1)
        pool = await create_pool(RedisSettings.from_dsn(redis_server.url), default_queue_name=queue)
        try:
            job = await pool.enqueue_job("ping")
            assert isinstance(job, Job) and await job.result(timeout=20) == "pong"
        finally:
            await pool.aclose()
        assert proc.poll() is None
    finally:
        _stop(proc)
        redis_server.stop()


async def test_a_job_ended_by_an_outage_does_not_hold_the_worker_in_backoff(settings):
    """arq re-raises a finished job's exception at a later poll. A job whose bookkeeping met the
    Redis restart raised there once Redis was back, was taken for a new outage, and every such
    job cost a backoff pause before the catch-up reconciliation could start."""
    import redis.exceptions
    from arq.worker import func

    from app.worker import BACKOFF_START_S, ResilientWorker, ping

    server = RedisServer().start()
    pool = await create_pool(RedisSettings.from_dsn(server.url), default_queue_name="resilience-test")
    worker = ResilientWorker(
        functions=[func(ping, name="ping")], redis_pool=pool, queue_name="resilience-test"
    )
    reconciled = asyncio.Event()

    async def reconcile() -> None:
        reconciled.set()

    worker._reconcile = reconcile  # type: ignore[method-assign]
    try:

        async def finished_during_outage() -> None:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1")

        for n in range(5):
            task = asyncio.create_task(finished_during_outage())
            await asyncio.sleep(0)
            worker.tasks[f"job-{n}"] = task
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        worker._outage_since = time.monotonic() - 2.0  # the outage the jobs met
        worker._backoff = 0.5
        started = time.monotonic()
        await worker._poll_iteration()
        assert time.monotonic() - started < BACKOFF_START_S  # no pause: Redis answers
        assert worker.tasks == {} and worker._outage_since is None
        await asyncio.wait_for(reconciled.wait(), 2)  # the catch-up reconciliation started at once
    finally:
        await pool.aclose()
        server.stop()


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _worker_process(env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for(pred, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def test_worker_process_survives_redis_going_away(settings, tmp_path):
    redis_server = RedisServer().start()
    env = {**os.environ, "REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "worker.log"
    proc = _worker_process(env, log)
    try:
        _wait_for(lambda: "Starting worker" in log.read_text(), 60, "the worker to start")
        redis_server.stop()
        await asyncio.sleep(3)  # arq's own loop died after ~2 s without Redis
        assert proc.poll() is None, log.read_text()
        redis_server.start()
        queue = namespace.queue_name(settings.model_copy(update={"redis_url": redis_server.url}))
        pool = await create_pool(RedisSettings.from_dsn(redis_server.url), default_queue_name=queue)
        try:
            job = await pool.enqueue_job("ping")
            assert await job.result(timeout=15) == "pong"
            assert isinstance(job, Job)
        finally:
            await pool.aclose()
        assert proc.poll() is None
        text = log.read_text()
        assert "redis unavailable" in text and "reconciling SLA timers now" in text, text
    finally:
        _stop(proc)
        redis_server.stop()


def test_serve_restarts_a_worker_that_died(tmp_path):
    """The supervisor ``siaga112 serve`` runs its worker under: a worker that exits is started
    again (backoff from 1 s), and stop() ends the current one."""
    from app.supervise import Supervised

    starts = tmp_path / "starts"
    # A "worker" that records its start and crashes the first two times, then keeps running.
    script = (
        "import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); n = len(p.read_text()) if p.exists() else 0; "
        "p.write_text('x' * (n + 1)); sys.exit(3) if n < 2 else time.sleep(600)"
    )
    sup = Supervised([sys.executable, "-c", script, str(starts)], name="test-worker").start()
    try:
        _wait_for(lambda: starts.exists() and len(starts.read_text()) == 3, 20, "two restarts")
        assert sup.restarts == 2
        time.sleep(0.5)
        assert sup.proc is not None and sup.proc.poll() is None
    finally:
        sup.stop(timeout_s=5)
    assert sup.proc.poll() is not None
    assert len(starts.read_text()) == 3  # stopped for good: no restart after stop()
