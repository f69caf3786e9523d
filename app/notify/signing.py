"""HMAC-SHA256 signatures for outgoing webhooks (Stripe-style: over "<timestamp>.<body>").

Signing the timestamp with the body lets a receiver reject replays older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Siaga112-Signature"
TIMESTAMP_HEADER = "X-Siaga112-Timestamp"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """For receivers (and our tests): constant-time compare plus a freshness window."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)
