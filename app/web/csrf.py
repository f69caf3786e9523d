"""CSRF protection for cookie-authenticated requests: a per-session token, checked on writes.

HTML forms send it as the ``csrf_token`` field; htmx and fetch send ``X-CSRF-Token`` (set once
in base.html through ``hx-headers``). A Bearer-token API call that carries no session cookie
needs none (it is authenticated by the token alone, never by a cookie: app.web.deps). Any request
that carries a session cookie needs the token, whatever else it sends: an ``Authorization``
header is no proof that the browser's cookie was not sent by a forged cross-site request.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def verify_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    if not request.session and request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(
            status_code=403,
            detail="Sesi formulir kedaluwarsa atau tidak sah (CSRF). Muat ulang halaman dan coba lagi.",
        )
