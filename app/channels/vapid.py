"""The deployment's VAPID key pair (RFC 8292): VAPID_PRIVATE_KEY, or generated into DATA_DIR in
development. Browsers subscribe with the public key (applicationServerKey); every push carries
a JWT signed with the private key, so a push service accepts only our pushes to our subscriptions.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

from app.config import Settings


@lru_cache(maxsize=4)
def _load(private: str, data_dir: str, environment: str) -> Vapid02:
    if private:
        if "BEGIN" in private:
            return Vapid02.from_pem(private.encode())
        return Vapid02.from_string(private)
    if environment == "production":
        raise RuntimeError("VAPID_PRIVATE_KEY must be set in production for web push")
    from pathlib import Path

    path = Path(data_dir) / "vapid_private.pem"
    if path.exists():
        return Vapid02.from_pem(path.read_bytes())
    v = Vapid02()
    v.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(v.private_pem())
    path.chmod(0o600)
    return v


def signer(settings: Settings) -> Vapid02:
    return _load(settings.vapid_private_key, str(settings.data_dir), settings.environment)


def public_key(settings: Settings) -> str:
    """Uncompressed P-256 point, base64url without padding (what pushManager.subscribe wants)."""
    raw = signer(settings).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
