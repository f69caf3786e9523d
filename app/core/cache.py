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
        self._loading: dict[tuple[int, Hashable], asyncio.Task] = {}

    def get(self, key: Hashable) -> V | None:
        return self._data.get(key)

    def set(self, key: Hashable, value: V) -> None:
        self._data[key] = value

    def pop(self, key: Hashable) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def keys(self) -> list[Hashable]:
        return list(self._data.keys())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def forget(self, key: Hashable) -> None:
        """Drop the value AND any load under way (it may predate the change being forgotten):
        the next reader loads afresh."""
        self._data.pop(key, None)
        for flight in [f for f in self._loading if f[1] == key]:
            self._loading.pop(flight, None)

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]], *, fresh: bool = False) -> V:
        """The cached value, or ``load()``'s (cached); a failed load is not cached. The load runs
        in its own task: a caller that goes away (cancelled) does not cancel it for the others."""
        if not fresh and key in self._data:
            return self._data[key]
        loop = asyncio.get_running_loop()
        flight = (id(loop), key)  # a task belongs to one event loop
        task = self._loading.get(flight)
        if task is None or fresh:
            task = loop.create_task(self._load_and_keep(flight, key, load))
            self._loading[flight] = task
            task.add_done_callback(lambda t: self._finished(flight, t))
        return await asyncio.shield(task)

    async def _load_and_keep(
        self, flight: tuple[int, Hashable], key: Hashable, load: Callable[[], Awaitable[V]]
    ) -> V:
        value = await load()
        if self._loading.get(flight) is asyncio.current_task():  # not forgotten meanwhile
            self.set(key, value)
        return value

    def _finished(self, flight: tuple[int, Hashable], task: asyncio.Task) -> None:
        if self._loading.get(flight) is task:
            del self._loading[flight]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every waiter went away
