"""arq worker: one WorkerSettings collecting every domain's jobs.

Run with ``siaga112 worker`` (or ``arq app.worker.WorkerSettings``). Jobs take the tenant as an
explicit argument and must be idempotent: arq may run a job more than once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, cast

from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, get_kwargs

from app import jobs, namespace
from app.channels.outbound import close_client
from app.config import get_settings
from app.db import models  # noqa: F401
from app.db.database import Database
from app.db.engine import make_async_engine
from app.domains import import_part
from app.events import load_subscribers
from app.outage import which
from app.sla.jobs import sla_reconcile
from app.sla.service import OVERDUE_GRACE

log = logging.getLogger("app.worker")
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 0.5  # short: a breach due during an outage must be recorded soon after recovery
CATCH_UP_ROUNDS = 3


async def startup(ctx: dict) -> None:
    settings = get_settings()
    ctx["settings"] = settings
    ctx["db"] = Database(
        make_async_engine(settings, pool_size=5, max_overflow=5),
        prepare_threshold=settings.db_prepare_threshold,
    )
    jobs.set_queue(namespace.tag(ctx["redis"], settings))
    load_subscribers()


async def shutdown(ctx: dict) -> None:
    await close_client()
    jobs.set_queue(None)
    await ctx["db"].dispose()


async def ping(ctx: dict) -> str:
    """Used by health checks and tests to prove a worker is consuming the queue."""
    return "pong"


def _functions() -> list:
    """``FUNCTIONS`` of every ``app.<domain>.jobs`` module."""
    found = [ping]
    for module in import_part("jobs"):
        found.extend(getattr(module, "FUNCTIONS", []))
    return found


def _cron_jobs() -> list:
    found: list = []
    for module in import_part("jobs"):
        found.extend(getattr(module, "CRON_JOBS", []))
    return found


class WorkerSettings:
    functions = _functions()
    cron_jobs = _cron_jobs()
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url or "redis://127.0.0.1:6379")
    # Every deployment its own queue (and health-check key, which arq derives from it).
    queue_name = namespace.queue_name()
    max_jobs = 50
    # How often the queue is polled (arq's default is 0.5 s): an OPD alert or an SLA timer due now
    # waits at most this long for a free worker; one cheap Redis read per tick.
    poll_delay = 0.1
    job_timeout = 60
    keep_result = 60
    # On SIGTERM stop taking jobs and give running ones this long before cancelling them (they are
    # idempotent and re-run). Below the orchestrator's stop timeout (ECS stopTimeout = 30 s).
    job_completion_wait = 25
    # arq refreshes its health key this often; the container HEALTHCHECK reads it (docker/healthcheck.py).
    health_check_interval = 30


class ResilientWorker(Worker):
    """arq's worker, except that losing Redis or PostgreSQL is never fatal.

    arq's poll loop lets a ``ConnectionError`` escape and the process ends (Redis gone for 2 s
    was enough). Here every poll that fails on an outage is logged and retried with backoff
    (0.2 s doubling to 0.5 s); when the dependencies answer again the SLA reconciliation runs at
    once (Redis may have lost its timers), instead of at the next 30-second cron tick. Errors
    that are not outages still end the worker, as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A unique cron job's id is "<name>:<tick>": namespaced names, or two deployments on one
        # Redis server would each skip the ticks the other ran (app.namespace).
        queue = kwargs.get("queue_name") or namespace.queue_name()
        kwargs["cron_jobs"] = [
            dataclasses.replace(cj, name=namespace.job_id(queue, cj.name))
            for cj in kwargs.get("cron_jobs") or []
        ]
        super().__init__(*args, **kwargs)
        self._backoff = BACKOFF_START_S
        self._outage_since: float | None = None
        self._recovering: asyncio.Task | None = None

    async def main(self) -> None:
        while self._pool is None:  # Redis down at start: wait for it rather than exit
            try:
                self._pool = await create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except Exception as exc:
                if which(exc) is None:
                    raise
                log.warning("worker: Redis unavailable at start (%s); retrying in %.1f s", exc, self._backoff)
                await self._wait()
        self._backoff = BACKOFF_START_S
        catch_up = asyncio.create_task(self._catch_up(), name="startup-catch-up")
        try:
            await super().main()
        finally:
            catch_up.cancel()

    async def _catch_up(self) -> None:
        """Right after a (re)start, reconcile a few more times, OVERDUE_GRACE apart: timers that
        fell due while no worker ran may sit behind the dead worker's in-progress keys (arq
        keeps them for job_timeout + 10 s), and the reconciliation fires overdue clocks itself."""
        while "db" not in self.ctx:  # noqa: ASYNC110 (on_startup, run by arq, sets it; no event to wait on)
            await asyncio.sleep(0.2)
        for _ in range(CATCH_UP_ROUNDS):
            await asyncio.sleep(OVERDUE_GRACE.total_seconds() + 1)
            await self._reconcile()

    async def _poll_iteration(self) -> None:
        self._forget_jobs_failed_by_outage()
        try:
            await super()._poll_iteration()
        except Exception as exc:
            kind = which(exc)
            if kind is None:
                raise
            if self._outage_since is None:
                self._outage_since = time.monotonic()
            log.warning("worker: %s unavailable (%s); retrying in %.1f s", kind, exc, self._backoff)
            await self._wait()
            return
        if self._outage_since is not None:
            log.warning(
                "worker: dependencies answer again after %.1f s; reconciling SLA timers now",
                time.monotonic() - self._outage_since,
            )
            self._outage_since, self._backoff = None, BACKOFF_START_S
            self._recovering = asyncio.create_task(self._reconcile(), name="recover-reconcile")

    def _forget_jobs_failed_by_outage(self) -> None:
        """arq re-raises a finished job's exception in a LATER poll (``t.result()``), one job per
        poll. Jobs whose own bookkeeping met the outage (finishing while Redis restarted) kept
        raising ConnectionErrors after Redis was back, each taken for a new outage with a backoff
        pause, so the catch-up reconciliation waited for all of them (fault run: breaches recorded
        up to 19 s after Redis returned). Such a job is logged and dropped here; its timer is
        rebuilt by the reconciliation (or re-run by arq once its in-progress key expires)."""
        for job_id, task in list(self.tasks.items()):
            if not task.done() or task.cancelled():
                continue
            exc = task.exception()
            if exc is not None and which(exc) is not None:
                del self.tasks[job_id]
                log.warning("worker: job %s ended by an outage (%s); its timer is reconciled", job_id, exc)

    async def _wait(self) -> None:
        await asyncio.sleep(self._backoff)
        self._backoff = min(BACKOFF_MAX_S, self._backoff * 2)

    async def _reconcile(self) -> None:
        try:
            totals = await sla_reconcile(self.ctx)
            log.info("worker: catch-up reconciliation %s", totals)
        except Exception:
            log.exception("worker: post-outage reconciliation failed (the 30 s cron retries)")


def run() -> None:
    """``siaga112 worker``: the resilient worker with WorkerSettings (signals as in arq)."""
    ResilientWorker(**get_kwargs(cast(Any, WorkerSettings))).run()
