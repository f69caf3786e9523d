"""HMAC-SHA256 request signing shared by the integrator webhook, the AML endpoint and the simulator.

The signature covers ``<unix timestamp> + "." + <raw body>``, sent as ``X-Siaga112-Timestamp``
and ``X-Siaga112-Signature: sha256=<hex>``. Signing the timestamp lets us refuse a captured
request replayed later; the event id (see service) refuses one replayed within the window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cache import TtlCache
from app.db.direct import Direct
from app.telephony.models import WebhookSecret

TIMESTAMP_HEADER = "X-Siaga112-Timestamp"
SIGNATURE_HEADER = "X-Siaga112-Signature"
MAX_AGE_S = 300  # older than 5 minutes: refused as a possible replay
MAX_SKEW_S = 60  # clocks differ a little; more than a minute ahead is refused


class SignatureError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    ts = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}


def check_timestamp(raw: str | None, now: float) -> str:
    """The timestamp header, checked (present, digits, within the replay window)."""
    if not raw:
        raise SignatureError(401, f"Header {TIMESTAMP_HEADER} wajib ada (unix seconds)")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise SignatureError(400, f"{TIMESTAMP_HEADER} harus berupa detik unix (bilangan bulat)")
    age = now - int(raw)
    if age > MAX_AGE_S:
        raise SignatureError(
            401, f"Timestamp terlalu lama ({int(age)} detik > {MAX_AGE_S}): ditolak sebagai replay"
        )
    if age < -MAX_SKEW_S:
        raise SignatureError(
            401, f"Timestamp {int(-age)} detik di masa depan (maks {MAX_SKEW_S}): periksa jam server"
        )
    return raw


def matches(secrets: list[str], timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time comparison against every currently valid secret (all are tried)."""
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(sign(secret, timestamp, body), signature)
    return ok


@dataclass
class _Entry:
    loaded: float
    secrets: list[tuple[str, datetime | None]]


# The tenant's valid secrets as (secret, valid_until) rows, at the given time.
Loader = Callable[[datetime], Awaitable[Sequence[Any]]]
_VALID = or_(
    WebhookSecret.valid_until.is_(None),
    WebhookSecret.valid_until > bindparam("now", type_=DateTime(timezone=True)),
)
_SECRETS = Direct(select(WebhookSecret.secret, WebhookSecret.valid_until).where(_VALID))


def from_session(session: AsyncSession) -> Loader:
    """Load through the request's tenant session."""

    async def load(now: datetime) -> Sequence[Any]:
        return (
            await session.execute(
                select(WebhookSecret.secret, WebhookSecret.valid_until).where(_VALID), {"now": now}
            )
        ).all()

    return load


def from_database(db: Any, slug: str) -> Loader:
    """Load with one autocommit read (``Database.read``): the webhook needs no session of its own."""

    async def load(now: datetime) -> Sequence[Any]:
        return await db.read(slug, _SECRETS, {"now": now})

    return load


class SecretCache:
    """Per-process cache of each tenant's valid secrets (app.core.cache), so the hot path skips a
    query.

    A signature that fails with cached secrets triggers one reload (at most once a second per
    tenant), so a rotation done by another process is picked up on the first new-secret request.
    Requests that need a reload while one is under way wait for that one (not a query each).
    """

    def __init__(self, ttl_s: float = 30.0, reload_gap_s: float = 1.0):
        self.reload_gap_s = reload_gap_s
        self._entries: TtlCache[_Entry] = TtlCache(ttl_s, maxsize=4096)

    def invalidate(self, slug: str) -> None:
        self._entries.forget(slug)

    async def _load(self, load: Loader, slug: str) -> _Entry:
        return await self._entries.get_or_load(slug, lambda: self._query(load))

    async def _reload(self, load: Loader, slug: str, stale: _Entry) -> _Entry:
        """A newer entry than ``stale``: the one another request is loading, or a load of our own."""
        if self._entries.get(slug) is stale:
            self._entries.forget(slug)
        return await self._load(load, slug)

    @staticmethod
    async def _query(load: Loader) -> _Entry:
        rows = await load(datetime.now(UTC))
        return _Entry(time.monotonic(), [(r[0], r[1]) for r in rows])

    async def verify(
        self,
        load: Loader,
        slug: str,
        timestamp: str | None,
        signature: str | None,
        body: bytes,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        if not signature:
            raise SignatureError(401, f"Header {SIGNATURE_HEADER} wajib ada (sha256=<hex>)")
        timestamp = check_timestamp(timestamp, now)
        if not signature.startswith("sha256=") or len(signature) != 71:
            raise SignatureError(401, f"{SIGNATURE_HEADER} harus berformat sha256=<64 hex>")
        entry = await self._load(load, slug)
        if matches(_valid(entry), timestamp, body, signature):
            return
        if time.monotonic() - entry.loaded > self.reload_gap_s:
            entry = await self._reload(load, slug, entry)
            if matches(_valid(entry), timestamp, body, signature):
                return
        if not entry.secrets:
            raise SignatureError(
                403, "Integrasi telepon belum dikonfigurasi: admin harus membuat secret webhook"
            )
        raise SignatureError(401, "Tanda tangan HMAC tidak cocok (secret salah atau body berubah)")


def _valid(entry: _Entry) -> list[str]:
    now = datetime.now(UTC)
    return [s for s, until in entry.secrets if until is None or until > now]


secret_cache = SecretCache()
