"""Login throttling in Redis: lockouts with exponential backoff per account+IP and per account,
and a per-IP cap.

Per account+IP with few free failures, so the operator's own mistyping locks only their own
browser's address for a moment. Per account (from every address together) with more free
failures, so an attacker who rotates addresses (a botnet, or forged X-Forwarded-For if a proxy
were trusted wrongly) still hits a lockout: the price is that such an attacker can also keep a
real account locked while the attack lasts (at most ACCOUNT_MAX_LOCK_S after its last failure;
SSO sign-in is not throttled here). The per-IP cap stops one source from spraying many accounts
(credential stuffing). Counters live in Redis, so every app process shares them; while Redis
is unreachable each process counts on its own (logged), so login keeps working and throttled.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from app import namespace
from app.outage import REDIS_DOWN

log = logging.getLogger(__name__)

FREE_FAILURES = 5  # failures per account+IP before the first lockout
BASE_LOCK_S = 30  # first lockout; doubles with every further failure
MAX_LOCK_S = 3600
FAILURE_MEMORY_S = 24 * 3600
ACCOUNT_FREE_FAILURES = 10  # failures per account from all addresses before its lockout
ACCOUNT_MAX_LOCK_S = 900
IP_WINDOW_S = 600
IP_MAX_FAILURES = 30  # failures per IP per window, across all accounts


def wait_message(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    when = f"{seconds} detik" if seconds < 90 else f"{minutes} menit"
    return f"Terlalu banyak percobaan masuk yang gagal. Demi keamanan, coba lagi dalam {when}."


class _Local:
    """The same counters in this process's memory: used while Redis is unreachable, so login
    keeps working (and keeps being throttled, per process) instead of failing. Bounded: the
    oldest entries go first past ``max_keys``."""

    def __init__(self, max_keys: int = 50_000):
        self._data: dict[str, tuple[int, float]] = {}
        self._max = max_keys

    def _live(self, key: str) -> tuple[int, float] | None:
        hit = self._data.get(key)
        if hit is not None and hit[1] <= time.monotonic():
            del self._data[key]
            return None
        return hit

    def ttl_ms(self, key: str) -> int:
        hit = self._live(key)
        return -2 if hit is None else int((hit[1] - time.monotonic()) * 1000)

    def get(self, key: str) -> int | None:
        hit = self._live(key)
        return None if hit is None else hit[0]

    def incr(self, key: str, ttl_s: float, keep_ttl: bool) -> int:
        hit = self._live(key)
        value = (hit[0] if hit else 0) + 1
        expires = hit[1] if (hit and keep_ttl) else time.monotonic() + ttl_s
        self._set(key, value, expires)
        return value

    def set(self, key: str, ttl_s: float) -> None:
        self._set(key, 1, time.monotonic() + ttl_s)

    def _set(self, key: str, value: int, expires: float) -> None:
        self._data.pop(key, None)
        self._data[key] = (value, expires)
        while len(self._data) > self._max:
            self._data.pop(next(iter(self._data)))

    def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)


_local = _Local()


def _lockouts(failures: int, account_failures: int) -> tuple[int, int]:
    """Seconds of the account+IP lockout and of the account lockout these counts trigger (0: none)."""
    lock_s = account_lock_s = 0
    if failures >= FREE_FAILURES:
        lock_s = min(MAX_LOCK_S, BASE_LOCK_S * 2 ** (failures - FREE_FAILURES))
    if account_failures >= ACCOUNT_FREE_FAILURES:
        exponent = min(account_failures - ACCOUNT_FREE_FAILURES, 16)
        account_lock_s = min(ACCOUNT_MAX_LOCK_S, BASE_LOCK_S * 2**exponent)
    return lock_s, account_lock_s


class LoginLimiter:
    """Redis first; while Redis is down, the per-process ``_Local`` counters (logged)."""

    def __init__(self, redis, scope: str):
        self.redis = redis
        self.scope = scope

    def _keys(self, email: str, ip: str) -> tuple[str, str, str, str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
        ns = namespace.of(self.redis)
        base = f"{ns}:login:{self.scope}"
        return (
            f"{base}:fail:{account}:{ip}",
            f"{base}:lock:{account}:{ip}",
            f"{ns}:login:ip:{ip}",
            f"{base}:afail:{account}",
            f"{base}:alock:{account}",
        )

    async def retry_after(self, email: str, ip: str) -> int:
        """Seconds the caller must wait before another attempt (0: may try now)."""
        _, lock_key, ip_key, _, account_lock_key = self._keys(email, ip)
        try:
            pipe = self.redis.pipeline()
            pipe.pttl(lock_key)
            pipe.pttl(account_lock_key)
            pipe.get(ip_key)
            pipe.pttl(ip_key)
            lock_ms, account_ms, ip_failures, ip_ms = await pipe.execute()
        except REDIS_DOWN:
            log.warning("login limiter: Redis unreachable, using this process's counters", exc_info=True)
            lock_ms, account_ms = _local.ttl_ms(lock_key), _local.ttl_ms(account_lock_key)
            ip_failures, ip_ms = _local.get(ip_key), _local.ttl_ms(ip_key)
        wait = max(0, lock_ms, account_ms) / 1000
        if ip_failures is not None and int(ip_failures) >= IP_MAX_FAILURES:
            wait = max(wait, max(0, ip_ms) / 1000)
        return math.ceil(wait)

    async def failed(self, email: str, ip: str) -> int:
        """Count a failure; returns the lockout it triggered (0: none yet)."""
        fail_key, lock_key, ip_key, account_key, account_lock_key = self._keys(email, ip)
        try:
            pipe = self.redis.pipeline()
            pipe.incr(fail_key)
            pipe.expire(fail_key, FAILURE_MEMORY_S)
            pipe.incr(ip_key)
            pipe.expire(ip_key, IP_WINDOW_S, nx=True)
            pipe.incr(account_key)
            pipe.expire(account_key, FAILURE_MEMORY_S)
            failures, _, _, _, account_failures, _ = await pipe.execute()
            lock_s, account_lock_s = _lockouts(failures, account_failures)
            if lock_s:
                await self.redis.set(lock_key, 1, ex=lock_s)
            if account_lock_s:
                await self.redis.set(account_lock_key, 1, ex=account_lock_s)
        except REDIS_DOWN:
            log.warning("login limiter: Redis unreachable, counting in this process", exc_info=True)
            failures = _local.incr(fail_key, FAILURE_MEMORY_S, keep_ttl=False)
            _local.incr(ip_key, IP_WINDOW_S, keep_ttl=True)
            account_failures = _local.incr(account_key, FAILURE_MEMORY_S, keep_ttl=False)
            lock_s, account_lock_s = _lockouts(failures, account_failures)
            if lock_s:
                _local.set(lock_key, lock_s)
            if account_lock_s:
                _local.set(account_lock_key, account_lock_s)
        return max(lock_s, account_lock_s)

    async def succeeded(self, email: str, ip: str) -> None:
        fail_key, lock_key, _, account_key, account_lock_key = self._keys(email, ip)
        _local.delete(fail_key, lock_key, account_key, account_lock_key)
        try:
            await self.redis.delete(fail_key, lock_key, account_key, account_lock_key)
        except REDIS_DOWN:
            log.warning("login limiter: Redis unreachable, could not clear counters", exc_info=True)
