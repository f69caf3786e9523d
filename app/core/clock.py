"""The platform's one notion of "now", injectable so tests control time instead of sleeping.

Everything that decides "is this overdue?", stamps a call or a breach, or opens a time window
calls ``now()`` (never ``datetime.now`` directly).
Scheduling converts a due time into a delay relative to this clock, so a fake clock that is
ahead of real time makes overdue timers fire at once in a real arq worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime | None = None):
        self._now = at or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at

    def advance(self, **delta) -> datetime:
        self._now += timedelta(**delta)
        return self._now


_clock: SystemClock | FakeClock = SystemClock()


def now() -> datetime:
    return _clock.now()


def use(clock: SystemClock | FakeClock | None) -> SystemClock | FakeClock:
    """Install ``clock`` (None = the system clock); returns the previous one so tests can restore it."""
    global _clock
    previous, _clock = _clock, clock or SystemClock()
    return previous


def delay_until(due: datetime) -> timedelta:
    """How long to wait, by this clock, until ``due`` (never negative)."""
    return max(timedelta(0), due - now())
