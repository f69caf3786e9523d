"""The web side of an honest shutdown (app.core.draining): the server marks the process as
draining on SIGTERM, and every request that cannot be served properly any more gets a 503 with
Retry-After instead of silence or a 500.

- A request that starts after SIGTERM (a keep-alive connection, one accepted in the last tick)
  is answered 503 at once, with ``Connection: close``.
- A request still running when uvicorn cancels it (grace + HARD_STOP_MARGIN_S) is answered 503
  if it has not started its response; it committed nothing (commits stop at the grace).
- Live streams (SSE) end when draining starts; browsers reconnect to another process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import threading
from typing import Any

from app.core.draining import DRAIN, HARD_STOP_MARGIN_S, ShuttingDown
from app.outage import RETRY_AFTER_S

log = logging.getLogger(__name__)


def unavailable_body() -> bytes:
    return json.dumps(
        {"detail": ShuttingDown.message, "unavailable": "shutdown", "retry_after": RETRY_AFTER_S}
    ).encode()


async def send_unavailable(send) -> None:
    body = unavailable_body()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"connection", b"close"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DrainMiddleware:
    """Outermost ASGI middleware: 503 instead of silence or a 500 while the process shuts down."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if DRAIN.draining:
            await send_unavailable(send)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if not DRAIN.draining or started:
                raise
            log.warning("%s %s cut off at the end of the shutdown grace", scope["method"], scope["path"])
            try:
                await send_unavailable(send)
            except Exception:  # the connection is gone as well
                pass


def watch_exit_signals(grace_s: float) -> None:
    """Called at startup, inside uvicorn (which has just installed its SIGTERM/SIGINT handlers,
    in every worker process): the process is marked draining before uvicorn's own handler runs."""
    if threading.current_thread() is not threading.main_thread():
        return  # a test client in a thread: no signals there
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if getattr(previous, "drains", False):
            continue

        def handler(signum, frame, previous=previous) -> None:
            DRAIN.begin(grace_s)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:  # nobody else listens: what the signal would have done
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        handler.drains = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)


def uvicorn_grace(grace_s: float) -> int:
    """uvicorn's timeout_graceful_shutdown (whole seconds): the grace, plus a moment for a
    commit that began just before it (at least 1 s, at most HARD_STOP_MARGIN_S)."""
    return math.floor(grace_s + HARD_STOP_MARGIN_S)
