"""The one TTL cache (app/core/cache.py): expiry on the monotonic clock, a bound, one load for a
burst of misses, no failed load kept."""

from __future__ import annotations

import asyncio

from app.core.cache import TtlCache


async def test_a_burst_of_misses_runs_one_load_and_the_value_expires():
    ttl = [30.0]
    cache: TtlCache[int] = TtlCache(lambda: ttl[0])
    runs = 0

    async def load() -> int:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.02)
        return runs

    assert await asyncio.gather(*[cache.get_or_load("k", load) for _ in range(10)]) == [1] * 10
    assert runs == 1 and await cache.get_or_load("k", load) == 1
    assert await cache.get_or_load("k", load, fresh=True) == 2  # a forced refresh loads again
    ttl[0] = 0.01  # read at each insert
    cache.set("short", 5)
    await asyncio.sleep(0.03)
    assert cache.get("short") is None


async def test_a_failed_load_is_not_cached_and_reaches_every_waiter():
    cache: TtlCache[int] = TtlCache(30)

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("down")

    results = await asyncio.gather(*[cache.get_or_load("k", boom) for _ in range(3)], return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)

    async def ok() -> int:
        return 7

    assert await cache.get_or_load("k", ok) == 7


def test_the_cache_is_bounded():
    cache: TtlCache[int] = TtlCache(30, maxsize=2)
    for i in range(5):
        cache.set(i, i)
    assert [i for i in range(5) if i in cache] == [3, 4]  # the oldest went first


async def test_a_cancelled_caller_does_not_cancel_the_load_the_others_wait_for():
    cache: TtlCache[int] = TtlCache(30)

    async def slow() -> int:
        await asyncio.sleep(0.05)
        return 9

    first = asyncio.create_task(cache.get_or_load("k", slow))
    second = asyncio.create_task(cache.get_or_load("k", slow))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == 9 and cache.get("k") == 9


async def test_forget_drops_the_value_and_a_load_under_way():
    cache: TtlCache[int] = TtlCache(30)
    gate = asyncio.Event()

    async def stale() -> int:
        await gate.wait()
        return 1

    async def current() -> int:
        return 2

    waiting = asyncio.create_task(cache.get_or_load("k", stale))
    await asyncio.sleep(0)
    cache.forget("k")  # the row changed while the old lookup was running
    assert await cache.get_or_load("k", current) == 2
    gate.set()
    assert await waiting == 1  # its own caller still gets an answer
    assert cache.get("k") == 2  # but the forgotten lookup does not overwrite the current value
