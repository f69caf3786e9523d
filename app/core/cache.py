"""One TTL cache for the whole app: bounded, on the monotonic clock, with single-flight loading
(concurrent misses of one key wait for ONE load instead of each running it), on cachetools."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TLRUCache

V = TypeVar("V")


class TtlCache(Generic[V]):
    """``ttl_s`` may be a number or a callable read at each insert (a setting tests may change)."""

    def __init__(self, ttl_s: float | Callable[[], float], maxsize: int = 1024):
        self._ttl = ttl_s if callable(ttl_s) else (lambda: float(ttl_s))
        self._data: TLRUCache = TLRUCache(
            maxsize, ttu=lambda _k, _v, now: now + self._ttl(), timer=time.monotonic
        )
        self._loading: dict[tuple[int, Hashable], asyncio.Future] = {}

    def get(self, key: Hashable) -> V | None:
        return self._data.get(key)

    def set(self, key: Hashable, value: V) -> None:
        self._data[key] = value

    def pop(self, key: Hashable) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]], *, fresh: bool = False) -> V:
        """The cached value, or ``load()``'s (cached); a failed load is not cached."""
        if not fresh and key in self._data:
            return self._data[key]
        flight = (id(asyncio.get_running_loop()), key)  # a future belongs to one event loop
        if flight in self._loading:
            return await asyncio.shield(self._loading[flight])
        future = asyncio.get_running_loop().create_future()
        self._loading[flight] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            self._loading.pop(flight, None)
        self.set(key, value)
        future.set_result(value)
        return value
