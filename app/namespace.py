"""One Redis namespace per deployment, for every key, queue and channel the app names.

Redis keys are separated by the DB index of ``REDIS_URL``, but pub/sub channels are not (a
PUBLISH reaches subscribers on every DB index of the server): two deployments sharing one Redis
server saw each other's live notices. Every name the app builds starts with the namespace:
``REDIS_PREFIX`` if set, otherwise ``siaga112:<database name>:<redis db index>``.

Limit: arq's own job keys (``arq:job:<id>``, ``arq:result:<id>``, cron job ids) have a fixed
prefix in arq; deployments sharing one Redis server must therefore also use different DB indexes
(which the derived namespace follows), or arq's keys of one would shadow the other's.
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


def queue_name(settings: Settings | None = None) -> str:
    return f"{namespace(settings)}:arq:queue"
