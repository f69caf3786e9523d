"""One Redis namespace per deployment, for every key, queue and channel the app names.

Redis keys are separated by the DB index of ``REDIS_URL``, but pub/sub channels are not (a
PUBLISH reaches subscribers on every DB index of the server): two deployments sharing one Redis
server saw each other's live notices. Every name the app builds starts with the namespace:
``REDIS_PREFIX`` if set, otherwise ``siaga112:<database name>:<redis db index>``.

arq's own keys (``arq:job:<id>``, ``arq:result:<id>``, ``arq:in-progress:<id>``, ``arq:retry:<id>``)
have a fixed prefix in arq but end with the job id: every job id the app writes (app.jobs) and
every cron job's name (hence its unique id, app.worker) starts with the namespace, so two
deployments on one Redis server (even on one DB index) never share a job, a result or a cron tick.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.config import Settings, get_settings

ATTR = "siaga112_namespace"  # set on the Redis clients the app and the worker make


def namespace(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.redis_prefix:
        return settings.redis_prefix.rstrip(":")
    db = urlsplit(settings.database_url).path.strip("/") or "embedded"
    index = urlsplit(settings.redis_url).path.strip("/") or "0"
    return f"siaga112:{db}:{index}"


def of(redis: Any = None) -> str:
    """The namespace of the deployment that made ``redis`` (else this process's settings)."""
    return getattr(redis, ATTR, None) or namespace()


def tag(redis: Any, settings: Settings) -> Any:
    setattr(redis, ATTR, namespace(settings))
    return redis


def key(redis: Any, *parts: str) -> str:
    return ":".join((of(redis), *parts))


QUEUE_SUFFIX = ":arq:queue"


def queue_name(settings: Settings | None = None) -> str:
    return f"{namespace(settings)}{QUEUE_SUFFIX}"


def job_prefix(queue: str) -> str:
    """The namespace of the jobs of arq queue ``queue`` (what their ids start with)."""
    return queue.removesuffix(QUEUE_SUFFIX)


def job_id(queue: str, name: str) -> str:
    """The arq job id of ``name`` on ``queue``: namespaced (arq keys end with the job id)."""
    prefix = job_prefix(queue) + ":"
    return name if name.startswith(prefix) else prefix + name
