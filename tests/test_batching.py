"""app.batching: concurrent submissions share flushes, each caller gets its own result or error."""

from __future__ import annotations

import asyncio

import pytest

from app.batching import Batcher


class Bad(Exception):
    pass


def recorder(fail_on=None, gate: asyncio.Event | None = None):
    flushed: list[tuple[str, list]] = []

    async def flush(key, items):
        if gate is not None:
            await gate.wait()
        flushed.append((key, list(items)))
        if fail_on is not None and fail_on in items:
            raise Bad(f"bad item {fail_on}")
        return [f"{key}:{i}" for i in items]

    return flush, flushed


async def test_concurrent_items_share_a_flush_and_each_gets_its_own_result():
    flush, flushed = recorder()
    b = Batcher(flush)
    results = await asyncio.gather(*(b.submit("kota_a", i) for i in range(10)))
    assert results == [f"kota_a:{i}" for i in range(10)]
    assert len(flushed) < 10 and sorted(i for _, items in flushed for i in items) == list(range(10))
    assert (b.flushes, b.items) == (len(flushed), 10)


async def test_the_first_item_goes_at_once_and_later_ones_wait_for_the_next_flush():
    gate = asyncio.Event()
    flush, flushed = recorder(gate=gate)
    b = Batcher(flush)
    first = asyncio.create_task(b.submit("k", 1))
    await asyncio.sleep(0.01)  # the first flush has started (and waits at the gate)
    later = [asyncio.create_task(b.submit("k", i)) for i in (2, 3, 4)]
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(first, *later)
    assert [items for _, items in flushed] == [[1], [2, 3, 4]]


async def test_keys_never_share_a_flush():
    flush, flushed = recorder()
    b = Batcher(flush)
    await asyncio.gather(*(b.submit(k, (k, i)) for i in range(4) for k in ("kota_a", "kab_b")))
    assert all(item[0] == key for key, items in flushed for item in items)
    assert sorted(item for _, items in flushed for item in items) == sorted(
        (k, i) for i in range(4) for k in ("kota_a", "kab_b")
    )


async def test_a_bad_item_fails_alone_when_the_failure_wrote_nothing():
    flush, _flushed = recorder(fail_on=3)
    b = Batcher(flush, retry_alone=lambda exc: isinstance(exc, Bad))
    results = await asyncio.gather(*(b.submit("k", i) for i in range(6)), return_exceptions=True)
    assert isinstance(results[3], Bad)
    assert [r for i, r in enumerate(results) if i != 3] == [f"k:{i}" for i in (0, 1, 2, 4, 5)]


async def test_other_failures_fail_the_whole_flush_without_a_retry():
    flush, flushed = recorder(fail_on=3)
    b = Batcher(flush)  # nothing says a retry is safe (the commit may have happened)
    results = await asyncio.gather(*(b.submit("k", i) for i in range(6)), return_exceptions=True)
    failed = [r for r in results if isinstance(r, Bad)]
    assert failed and len(flushed) == len({tuple(items) for _, items in flushed})  # no item flushed twice
    assert sum(len(items) for _, items in flushed) == 6


async def test_a_caller_that_goes_away_does_not_cancel_the_flush():
    gate = asyncio.Event()
    flush, flushed = recorder(gate=gate)
    b = Batcher(flush)
    caller = asyncio.create_task(b.submit("k", 1))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set()
    await b.aclose()  # waits for the flush under way
    assert flushed == [("k", [1])]


async def test_a_flush_returning_the_wrong_number_of_results_is_an_error_not_a_hang():
    async def flush(key, items):
        return items[:1]

    b = Batcher(flush)
    results = await asyncio.wait_for(
        asyncio.gather(b.submit("k", 1), b.submit("k", 2), return_exceptions=True), 2
    )
    assert all(isinstance(r, RuntimeError) for r in results)
