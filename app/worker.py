"""arq worker: one WorkerSettings collecting every domain's jobs.

Run with ``siaga112 worker`` (or ``arq app.worker.WorkerSettings``). Jobs take the tenant as an
explicit argument and must be idempotent: arq may run a job more than once.
"""

from __future__ import annotations

from arq.connections import RedisSettings

from app import jobs, namespace
from app.config import get_settings
from app.db import models  # noqa: F401
from app.db.database import Database
from app.db.engine import make_async_engine
from app.discovery import import_domain_modules
from app.events import load_subscribers


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
    jobs.set_queue(None)
    await ctx["db"].dispose()


async def ping(ctx: dict) -> str:
    """Used by health checks and tests to prove a worker is consuming the queue."""
    return "pong"


def _functions() -> list:
    """``FUNCTIONS`` of every ``app.<domain>.jobs`` module."""
    found = [ping]
    for module in import_domain_modules("jobs"):
        found.extend(getattr(module, "FUNCTIONS", []))
    return found


def _cron_jobs() -> list:
    found: list = []
    for module in import_domain_modules("jobs"):
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
    job_timeout = 60
    keep_result = 60
    # On SIGTERM stop taking jobs and give running ones this long before cancelling them (they are
    # idempotent and re-run). Below the orchestrator's stop timeout (ECS stopTimeout = 30 s).
    job_completion_wait = 25
    # arq refreshes its health key this often; the container HEALTHCHECK reads it (docker/healthcheck.py).
    health_check_interval = 30
