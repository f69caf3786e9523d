"""What a successful login does, whichever way it came: a password (app.auth.views), an SSO
callback or a password change (app.security): a fresh session cookie, then a safe place to land.

A module of its own so those views share it without importing one another's routers.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

from starlette.requests import Request

ROLE_HOME = {
    "admin": "/t/{slug}/",
    "supervisor": "/t/{slug}/",
    "operator": "/t/{slug}/",
    "opd_staff": "/t/{slug}/opd",
}


def safe_next(next_url: str | None, prefix: str) -> str | None:
    """Only same-site paths under the expected prefix; never an absolute URL (open redirect)."""
    if not next_url:
        return None
    parsed = urlparse(next_url)
    if parsed.scheme or parsed.netloc or not next_url.startswith(prefix) or next_url.startswith("//"):
        return None
    return next_url


def start_session(request: Request, **values) -> None:
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session.update(values, t=int(time.time()))
    if csrf:
        request.session["csrf"] = csrf
