"""``python bench/uvicorn_on_socket.py FD``: the app under uvicorn on an inherited listening socket.

bench.common.Server gives each process a socket of its own on one port (SO_REUSEPORT). uvicorn's
own ``--fd`` takes any descriptor for a UNIX socket, so TCP_NODELAY would not be set on its
connections (Nagle + delayed ACK: 40 ms stalls); ``socket.socket(fileno=…)`` reads the real family.

With ``BENCH_PROBE=1`` the process also records what can stall requests, and prints it as one
``BENCH_PROBE {json}`` line when it stops (bench.common.server_probes reads them back): every
garbage-collector pass of 2 ms or more (wall time, duration, generation), every time the event
loop woke 10 ms or more after a 5 ms timer (something blocked the loop, or the process had no
CPU), and the most pool connections checked out at once (requests wait when all are).
"""

import gc
import json
import os
import socket
import sys
import time

import uvicorn


class Probe:
    def __init__(self) -> None:
        self.gc: list[tuple[float, float, int]] = []
        self.lag: list[tuple[float, float]] = []
        self.pool_max = 0
        self.pool_capacity = 0
        self._gc_start = 0.0

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        took = (time.perf_counter() - self._gc_start) * 1000
        if took >= 2:
            self.gc.append((time.time(), round(took, 2), info.get("generation", -1)))

    async def watch(self, app) -> None:
        import asyncio

        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            late = (time.perf_counter() - t0 - 0.005) * 1000
            if late >= 10:
                self.lag.append((time.time(), round(late, 1)))
            db = getattr(app.state, "db", None)
            if db is not None:
                pool = db.engine.pool
                self.pool_max = max(self.pool_max, pool.checkedout())
                self.pool_capacity = pool.size() + pool._max_overflow

    def report(self) -> str:
        return "BENCH_PROBE " + json.dumps(
            {
                "pid": os.getpid(),
                "gc": self.gc,
                "lag": self.lag,
                "pool_max": self.pool_max,
                "pool_capacity": self.pool_capacity,
            }
        )


def probed(factory):
    """The app, with a Probe running for the life of its lifespan."""
    import asyncio

    app = factory()
    probe = Probe()
    gc.callbacks.append(probe.on_gc)

    async def asgi(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        task = asyncio.create_task(probe.watch(app))
        try:
            await app(scope, receive, send)
        finally:
            task.cancel()
            print(probe.report(), file=sys.stderr, flush=True)

    return asgi


if __name__ == "__main__":
    listening = socket.socket(fileno=int(sys.argv[1]))
    if os.environ.get("BENCH_PROBE"):
        from app.main import create_app

        target, factory = (lambda: probed(create_app)), True
    else:
        target, factory = "app.main:create_app", True
    from app.cli import web_server_options

    # The production web process's options (no uvicorn proxy-header middleware, no Server
    # header), so the benchmark measures the stack that serves regencies.
    options = {**web_server_options(), "log_level": "warning"}
    config = uvicorn.Config(
        target, factory=factory, access_log=False, timeout_graceful_shutdown=10, **options
    )
    uvicorn.Server(config).run(sockets=[listening])
