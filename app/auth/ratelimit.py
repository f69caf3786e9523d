"""Login throttling in Redis: lockout with exponential backoff per account+IP, and a per-IP cap.

Per account+IP (not per account alone) so an attacker cannot lock a real operator out of the
console from elsewhere; the per-IP cap stops one source from spraying many accounts
(credential stuffing). Counters live in Redis, so every app process shares them.
"""

from __future__ import annotations

import hashlib
import math

FREE_FAILURES = 5  # failures per account+IP before the first lockout
BASE_LOCK_S = 30  # first lockout; doubles with every further failure
MAX_LOCK_S = 3600
FAILURE_MEMORY_S = 24 * 3600
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

    def _keys(self, email: str, ip: str) -> tuple[str, str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
        base = f"siaga112:login:{self.scope}"
        return f"{base}:fail:{account}:{ip}", f"{base}:lock:{account}:{ip}", f"siaga112:login:ip:{ip}"

    async def retry_after(self, email: str, ip: str) -> int:
        """Seconds the caller must wait before another attempt (0: may try now)."""
        _, lock_key, ip_key = self._keys(email, ip)
        pipe = self.redis.pipeline()
        pipe.pttl(lock_key)
        pipe.get(ip_key)
        pipe.pttl(ip_key)
        lock_ms, ip_failures, ip_ms = await pipe.execute()
        wait = max(0, lock_ms) / 1000
        if ip_failures is not None and int(ip_failures) >= IP_MAX_FAILURES:
            wait = max(wait, max(0, ip_ms) / 1000)
        return math.ceil(wait)

    async def failed(self, email: str, ip: str) -> int:
        """Count a failure; returns the lockout it triggered (0: none yet)."""
        fail_key, lock_key, ip_key = self._keys(email, ip)
        pipe = self.redis.pipeline()
        pipe.incr(fail_key)
        pipe.expire(fail_key, FAILURE_MEMORY_S)
        pipe.incr(ip_key)
        pipe.expire(ip_key, IP_WINDOW_S, nx=True)
        failures, _, _, _ = await pipe.execute()
        if failures < FREE_FAILURES:
            return 0
        lock_s = min(MAX_LOCK_S, BASE_LOCK_S * 2 ** (failures - FREE_FAILURES))
        await self.redis.set(lock_key, 1, ex=lock_s)
        return lock_s

    async def succeeded(self, email: str, ip: str) -> None:
        fail_key, lock_key, _ = self._keys(email, ip)
        await self.redis.delete(fail_key, lock_key)
