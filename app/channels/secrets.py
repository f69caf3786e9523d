"""Channel credentials encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`).

The key is CHANNEL_SECRETS_KEY, or one derived from SECRET_KEY with HKDF when unset, so a
database dump alone never reveals a WhatsApp token or an SMS gateway password. Admin pages show
a secret once (when entered) and afterwards only whether it is set.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import get_settings


@lru_cache(maxsize=4)
def _fernet(explicit: str, secret_key: str) -> Fernet:
    if explicit:
        return Fernet(explicit.encode())
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"siaga112-channels", info=b"fernet").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


def _key() -> Fernet:
    s = get_settings()
    return _fernet(s.channel_secrets_key, s.secret_key)


def encrypt(values: dict[str, str]) -> str:
    return _key().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str | None) -> dict[str, str]:
    """The stored secrets; {} when none. A token from another key raises ValueError."""
    if not token:
        return {}
    try:
        return json.loads(_key().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError("kredensial kanal tidak dapat dibuka (kunci enkripsi berubah?)") from exc
