"""Honest shutdown: after SIGTERM a process stops taking new work, lets what is under way finish
within the grace period, and refuses to commit once the grace is over.

Without this, uvicorn cancelled the requests still running at the end of its graceful timeout
and answered them 500, while a group-commit flush they had handed their call to still committed
it: the client was told "failed" about a call that was stored. Now a commit after the grace
raises ``ShuttingDown`` (the transaction is rolled back, the client gets 503 + Retry-After and
retries elsewhere with its idempotency key), and the process is cut off a moment later
(``HARD_STOP_MARGIN_S``), so it exits within grace + 2 s.
"""

from __future__ import annotations

import time

DEFAULT_GRACE_S = 20.0
# uvicorn cancels what still runs this long after the grace: time for a commit that began just
# before it to finish, and for the cancelled requests to be answered 503.
HARD_STOP_MARGIN_S = 1.5


class ShuttingDown(Exception):
    """The process is shutting down and its grace period is over: nothing more is committed."""

    message = "Server sedang dimatikan untuk pembaruan; kirim ulang permintaan (service unavailable)."


class Drain:
    """This process's shutdown state (one per process; set by the web server's signal handler)."""

    def __init__(self) -> None:
        self.grace_s = DEFAULT_GRACE_S
        self.started_at: float | None = None

    def begin(self, grace_s: float | None = None) -> None:
        if grace_s is not None:
            self.grace_s = grace_s
        if self.started_at is None:
            self.started_at = time.monotonic()

    @property
    def draining(self) -> bool:
        return self.started_at is not None

    def past_grace(self) -> bool:
        return self.started_at is not None and time.monotonic() - self.started_at >= self.grace_s

    def reset(self) -> None:
        self.started_at = None


DRAIN = Drain()


def refuse_commit_past_grace() -> None:
    if DRAIN.past_grace():
        raise ShuttingDown(ShuttingDown.message)
