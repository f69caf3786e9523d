"""One-tap acknowledgement tokens: signed, expiring, single use, bound to one outbox message
(and so to one dispatch and one contact).

Link token ``<message id>.<expiry, base36>.<HMAC>``: the HMAC (SECRET_KEY) covers the tenant,
message id, dispatch id, recipient and expiry, so a token cannot be moved to another dispatch,
contact or tenant, nor extended. Single use is the message row's ``ack_used_at`` (set in the
transaction that acknowledges). Button data for Telegram/WhatsApp is shorter
(``ack:<message id>:<HMAC8>``) and is also checked against the sender's address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from app.config import get_settings


def _mac(*parts: object, length: int = 16) -> str:
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, ":".join(str(p) for p in parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:length]).rstrip(b"=").decode()


def _bind(tenant: str, message_id: int, dispatch_id: int | None, recipient_key: str) -> tuple:
    return ("ack", tenant, message_id, dispatch_id, recipient_key)


def make_token(
    tenant: str, message_id: int, dispatch_id: int | None, recipient_key: str, ttl_s: int | None = None
) -> str:
    exp = int(time.time()) + (ttl_s if ttl_s is not None else get_settings().ack_link_ttl_s)
    exp36 = _b36(exp)
    return f"{message_id}.{exp36}.{_mac(*_bind(tenant, message_id, dispatch_id, recipient_key), exp36)}"


@dataclass
class Parsed:
    message_id: int
    expires_at: int
    exp36: str
    mac: str


def parse_token(token: str) -> Parsed | None:
    try:
        mid, exp36, mac = token.split(".")
        return Parsed(int(mid), int(exp36, 36), exp36, mac)
    except (ValueError, AttributeError):
        return None


def check_token(
    parsed: Parsed, tenant: str, dispatch_id: int | None, recipient_key: str, now: float | None = None
) -> str:
    """'ok' | 'invalid' | 'expired' (the signature is checked first: an expiry cannot be forged)."""
    want = _mac(*_bind(tenant, parsed.message_id, dispatch_id, recipient_key), parsed.exp36)
    if not hmac.compare_digest(want, parsed.mac):
        return "invalid"
    if (now or time.time()) > parsed.expires_at:
        return "expired"
    return "ok"


def make_callback(tenant: str, message_id: int, dispatch_id: int | None) -> str:
    return f"ack:{message_id}:{_mac('cb', tenant, message_id, dispatch_id, length=6)}"


def parse_callback(data: str | None) -> tuple[int, str] | None:
    try:
        prefix, mid, mac = (data or "").split(":")
        return (int(mid), mac) if prefix == "ack" else None
    except ValueError:
        return None


def check_callback(tenant: str, message_id: int, dispatch_id: int | None, mac: str) -> bool:
    return hmac.compare_digest(_mac("cb", tenant, message_id, dispatch_id, length=6), mac)


def make_receipt(tenant: str, message_id: int) -> str:
    """Web push "shown" receipt token ``<message id>.<HMAC>``, bound to tenant and message."""
    return f"{message_id}.{_mac('receipt', tenant, message_id)}"


def check_receipt(tenant: str, token: str) -> int | None:
    """The message id of a valid receipt token, else None."""
    mid, _, mac = token.partition(".")
    if not mid.isdigit() or not hmac.compare_digest(_mac("receipt", tenant, int(mid)), mac):
        return None
    return int(mid)


def _b36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out or "0"
