"""Keyed hashes of caller numbers (HMAC-SHA256 under a national secret), never the numbers.

Without the key a hash cannot be tested against the 10^10 possible Indonesian mobile numbers,
which a plain SHA-256 could (a dictionary over every number takes minutes). Keys carry an id so
rotation is possible: the first key of NATIONAL_HASH_KEYS writes, every listed key is matched.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from app.config import Settings, get_settings


@dataclass(frozen=True)
class HashKey:
    id: str
    secret: bytes

    def digest(self, number: str) -> bytes:
        return hmac.new(self.secret, number.encode(), hashlib.sha256).digest()


def keys(settings: Settings | None = None) -> list[HashKey]:
    """Current key first. Malformed entries raise: a wrong key would silently split every record."""
    settings = settings or get_settings()
    raw = settings.national_hash_keys.strip()
    if not raw:
        derived = hmac.new(
            settings.secret_key.encode(), b"siaga112 caller reputation", hashlib.sha256
        ).digest()
        return [HashKey("dev", derived)]
    found = []
    for part in raw.split(","):
        key_id, sep, secret = part.strip().partition(":")
        if not sep or not key_id or len(key_id) > 16 or len(secret) < 32:
            raise ValueError("NATIONAL_HASH_KEYS: each entry is id:secret, id ≤ 16 chars, secret ≥ 32 chars")
        found.append(HashKey(key_id, secret.encode()))
    if len({k.id for k in found}) != len(found):
        raise ValueError("NATIONAL_HASH_KEYS: key ids must be unique")
    return found


def current(settings: Settings | None = None) -> HashKey:
    return keys(settings)[0]
