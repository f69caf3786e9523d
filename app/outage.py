"""Which errors mean "a dependency is down" (PostgreSQL, Redis), as opposed to a bug or bad input.

The web layer answers them with 503 + Retry-After (app.main); the worker retries them with
backoff (app.worker, app.sla.jobs). One place, so every layer agrees on what is transient.
"""

from __future__ import annotations

import psycopg
import redis.exceptions
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc

RETRY_AFTER_S = 5  # what a 503 tells clients; a restarting PostgreSQL is back within seconds

REDIS_DOWN: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # includes BusyLoadingError (Redis still loading its data)
    redis.exceptions.TimeoutError,
    ConnectionError,  # OS-level refusals/resets seen by raw sockets
)
_DB_DRIVER_DOWN: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # connection refused/lost, admin shutdown, server starting up
    psycopg.InterfaceError,  # the connection is closed
    PoolTimeout,
)


def db_down(exc: BaseException) -> bool:
    """PostgreSQL unreachable, restarting, or the connection was lost mid-request."""
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DBAPIError) and isinstance(exc.orig, _DB_DRIVER_DOWN):
        return True
    return isinstance(exc, _DB_DRIVER_DOWN)


def redis_down(exc: BaseException) -> bool:
    return isinstance(exc, REDIS_DOWN)


def which(exc: BaseException) -> str | None:
    """'database' / 'redis' if ``exc`` (or what caused it) is an outage, else None."""
    seen = 0
    while exc is not None and seen < 5:
        if db_down(exc):
            return "database"
        if redis_down(exc):
            return "redis"
        exc = _cause(exc)  # type: ignore[assignment]
        seen += 1
    return None


def _cause(exc: BaseException) -> BaseException | None:
    """The explicit cause; for redis-py's WatchError also the implicit one. A pipeline that loses
    its connection while WATCHing raises WatchError inside its ``except ConnectionError`` (no
    ``from``): arq's job start let it end the worker when Redis restarted (bench/fault_recovery:
    no timer ran until the worker was restarted). Other implicit contexts stay unfollowed: a bug
    raised while handling an outage is still a bug."""
    if exc.__cause__ is not None:
        return exc.__cause__
    if isinstance(exc, redis.exceptions.WatchError):
        return exc.__context__
    return None
