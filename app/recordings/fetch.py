"""Fetching a recording from a URL the integrator gives, without becoming an SSRF proxy.

Rules: no credentials in the URL; no redirects (a 3xx is an error); a size cap enforced while
reading; a short timeout. Unless the host is listed in ``RECORDINGS_FETCH_HOSTS`` (comma-separated
``host`` or ``host:port``: the integrator's own media servers, which may be private), the URL must
be https and EVERY address its host resolves to must be globally routable (no loopback, private,
link-local — e.g. the cloud metadata endpoint 169.254.169.254 — or reserved ranges).
The address check is the platform's shared one (``app.security.outbound.resolve``: every address,
any notation). The download itself streams through httpx to the URL, not to the pinned address.
Known limit: the name is resolved once for the check and again by the HTTP client, so a DNS
rebinding attacker with a very short TTL could still win the race; the allow-list closes that.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx

from app.security import outbound as safe

TIMEOUT_S = 30.0


class FetchError(ValueError):
    pass


def _allowed_hosts() -> set[str]:
    return {h.strip().lower() for h in os.environ.get("RECORDINGS_FETCH_HOSTS", "").split(",") if h.strip()}


async def fetch(url: str, max_bytes: int) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("URL harus http(s)://host/…")
    if parts.username or parts.password:
        raise FetchError("URL tidak boleh berisi kredensial")
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = _allowed_hosts()
    if host not in allowed and f"{host}:{port}" not in allowed:
        if parts.scheme != "https":
            raise FetchError("URL harus https (kecuali host ada di RECORDINGS_FETCH_HOSTS)")
        try:  # no allowed networks here: only RECORDINGS_FETCH_HOSTS may be private
            await safe.resolve(url)
        except safe.OutboundRefused as exc:
            raise FetchError(str(exc)) from None
    chunks, total = [], 0
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client,
            client.stream("GET", url) as resp,
        ):
            if resp.status_code != 200:
                raise FetchError(f"server rekaman menjawab {resp.status_code} (pengalihan tidak diikuti)")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"rekaman terlalu besar (> {max_bytes} byte)")
            async for chunk in resp.aiter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"rekaman terlalu besar (> {max_bytes} byte)")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise FetchError(f"rekaman tidak dapat diambil ({type(exc).__name__})") from None
    return b"".join(chunks)
