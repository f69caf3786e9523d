"""Login throttling in Redis: lockouts with exponential backoff per account+IP and per account,
and a per-IP cap.

Per account+IP with few free failures, so the operator's own mistyping locks only their own
browser's address for a moment. Per account (from every address together) with more free
failures, so an attacker who rotates addresses (a botnet, or forged X-Forwarded-For if a proxy
were trusted wrongly) still hits a lockout: the price is that such an attacker can also keep a
real account locked while the attack lasts (at most ACCOUNT_MAX_LOCK_S after its last failure;
SSO sign-in is not throttled here). The per-IP cap stops one source from spraying many accounts
(credential stuffing). Counters live in Redis, so every app process shares them.
"""

from __future__ import annotations

import hashlib
import math

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


class LoginLimiter:
    def __init__(self, redis, scope: str):
        self.redis = redis
        self.scope = scope

    def _keys(self, email: str, ip: str) -> tuple[str, str, str, str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
        base = f"siaga112:login:{self.scope}"
        return (
            f"{base}:fail:{account}:{ip}",
            f"{base}:lock:{account}:{ip}",
            f"siaga112:login:ip:{ip}",
            f"{base}:afail:{account}",
            f"{base}:alock:{account}",
        )

    async def retry_after(self, email: str, ip: str) -> int:
        """Seconds the caller must wait before another attempt (0: may try now)."""
        _, lock_key, ip_key, _, account_lock_key = self._keys(email, ip)
        pipe = self.redis.pipeline()
        pipe.pttl(lock_key)
        pipe.pttl(account_lock_key)
        pipe.get(ip_key)
        pipe.pttl(ip_key)
        lock_ms, account_ms, ip_failures, ip_ms = await pipe.execute()
        wait = max(0, lock_ms, account_ms) / 1000
        if ip_failures is not None and int(ip_failures) >= IP_MAX_FAILURES:
            wait = max(wait, max(0, ip_ms) / 1000)
        return math.ceil(wait)

    async def failed(self, email: str, ip: str) -> int:
        """Count a failure; returns the lockout it triggered (0: none yet)."""
        fail_key, lock_key, ip_key, account_key, account_lock_key = self._keys(email, ip)
        pipe = self.redis.pipeline()
        pipe.incr(fail_key)
        pipe.expire(fail_key, FAILURE_MEMORY_S)
        pipe.incr(ip_key)
        pipe.expire(ip_key, IP_WINDOW_S, nx=True)
        pipe.incr(account_key)
        pipe.expire(account_key, FAILURE_MEMORY_S)
        failures, _, _, _, account_failures, _ = await pipe.execute()
        lock_s = account_lock_s = 0
        if failures >= FREE_FAILURES:
            lock_s = min(MAX_LOCK_S, BASE_LOCK_S * 2 ** (failures - FREE_FAILURES))
            await self.redis.set(lock_key, 1, ex=lock_s)
        if account_failures >= ACCOUNT_FREE_FAILURES:
            exponent = min(account_failures - ACCOUNT_FREE_FAILURES, 16)
            account_lock_s = min(ACCOUNT_MAX_LOCK_S, BASE_LOCK_S * 2**exponent)
            await self.redis.set(account_lock_key, 1, ex=account_lock_s)
        return max(lock_s, account_lock_s)

    async def succeeded(self, email: str, ip: str) -> None:
        fail_key, lock_key, _, account_key, account_lock_key = self._keys(email, ip)
        await self.redis.delete(fail_key, lock_key, account_key, account_lock_key)
