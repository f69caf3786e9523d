"""Group commit for hot paths: concurrent requests for one key (a tenant) share one flush.

On this platform a database round trip costs a web worker more CPU than the statement costs
PostgreSQL, so under load the intake API hands its calls to a ``Batcher``: the first request
for a tenant starts a flush at once (no waiting, so an idle system adds no latency), and the
requests that arrive while it runs go together in the next flush. Each request still gets its
own answer only after its own data is committed.

A flush that fails is retried item by item when ``retry_alone(exc)`` says the failure left
nothing written (a bad value, a missing reference): one bad call then fails only its own
request. Any other failure (the database gone mid-commit) fails every item of that flush with
the same error, never a retry that could write a call twice.

A flush may also answer one item with an exception (its result is an exception instance: e.g.
a replayed telephony event) while the others of the batch succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class Batcher(Generic[K, I, R]):
    def __init__(
        self,
        flush: Callable[[K, list[I]], Awaitable[list[R]]],
        *,
        max_batch: int = 64,
        retry_alone: Callable[[BaseException], bool] = lambda exc: False,
    ):
        self._flush = flush
        self._max = max_batch
        self._retry_alone = retry_alone
        self._queues: dict[K, list[tuple[I, asyncio.Future]]] = {}
        self._running: dict[K, asyncio.Task] = {}
        self.flushes = 0  # how well a process batches: items / flushes
        self.items = 0

    async def submit(self, key: K, item: I) -> R:
        """The result of ``flush(key, [..., item, ...])`` for this item, or its exception. A
        cancelled caller does not cancel the flush (its item is written all the same)."""
        future = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, []).append((item, future))
        if key not in self._running:
            self._running[key] = asyncio.create_task(self._drain(key), name=f"batch-{key}")
        return await future

    async def _drain(self, key: K) -> None:
        try:
            while self._queues.get(key):
                queue = self._queues[key]
                batch, self._queues[key] = queue[: self._max], queue[self._max :]
                await self._run(key, batch)
        finally:
            self._running.pop(key, None)
            for _, future in self._queues.pop(key, []):  # only if the drain itself was cancelled
                if not future.done():
                    future.set_exception(RuntimeError("batch flush cancelled (shutting down)"))

    async def _run(self, key: K, batch: list[tuple[I, asyncio.Future]]) -> None:
        self.flushes += 1
        self.items += len(batch)
        try:
            results = await self._flush(key, [item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"flush returned {len(results)} results for {len(batch)} items")
        except Exception as exc:
            if len(batch) > 1 and self._retry_alone(exc):
                for one in batch:
                    await self._run(key, [one])
                return
            for _, future in batch:
                _settle(future, exc=exc)
            return
        except BaseException:  # cancelled (shutdown): nobody may wait forever
            for _, future in batch:
                _settle(future, exc=RuntimeError("batch flush cancelled (shutting down)"))
            raise
        for (_, future), result in zip(batch, results, strict=False):
            if isinstance(result, BaseException):
                _settle(future, exc=result)
            else:
                _settle(future, result=result)

    async def aclose(self) -> None:
        """Wait for the flushes under way (shutdown: their callers are still owed an answer)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


def _settle(future: asyncio.Future, result=None, exc: BaseException | None = None) -> None:
    if future.done():  # the caller went away; what it asked for is done all the same
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
