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
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
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
