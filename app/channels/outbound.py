"""Outbound HTTP for channel adapters: one shared client for provider APIs, and the SSRF check
for URLs/hosts that come from users (an admin's SMS gateway URL or SMTP host, a browser's push
endpoint), which is the platform's shared one (``app.security.outbound``).

Provider base URLs (WhatsApp, Telegram) are settings and trusted. A user-supplied target must
resolve only to public addresses (every address, whatever notation it is written in), plain http
only to a network in OUTBOUND_ALLOW_NETWORKS (tests, an on-premises gateway); push endpoints
additionally must be on WEBPUSH_ALLOWED_HOSTS. The check runs when the URL is saved AND before
each send (DNS can change); the SMS adapter then connects to the checked address itself
(``app.security.outbound.send``: no second lookup, no redirects).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from app.config import get_settings
from app.core.networks import IPNetwork, parse_networks
from app.security import outbound as safe

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_clients: dict[int, httpx.AsyncClient] = {}


class UnsafeUrl(ValueError):
    """The URL may not be fetched; the message (Indonesian) can be shown beside the field."""


def client() -> httpx.AsyncClient:
    """One pooled client per event loop (a connection cannot cross loops)."""
    loop = id(asyncio.get_running_loop())
    c = _clients.get(loop)
    if c is None or c.is_closed:
        c = _clients[loop] = httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False, limits=httpx.Limits(max_connections=100)
        )
    return c


async def close_client() -> None:
    """Close this event loop's pooled client (app lifespan / worker shutdown): no connection to a
    provider is left open when the loop ends."""
    c = _clients.pop(id(asyncio.get_running_loop()), None)
    if c is not None:
        await c.aclose()
    await safe.close_pinned_clients()


def host_allowed(host: str, patterns: str) -> bool:
    host = host.lower().rstrip(".")
    for p in (x.strip().lower() for x in patterns.split(",") if x.strip()):
        if p.startswith("*.") and (host.endswith(p[1:]) or host == p[2:]):
            return True
        if host == p:
            return True
    return False


def allowed_networks() -> tuple[IPNetwork, ...]:
    return parse_networks(get_settings().outbound_allow_networks)


async def check_url(url: str, *, allowed_hosts: str | None = None) -> safe.Target:
    """The checked target (its address resolved and verified); raises UnsafeUrl otherwise."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if allowed_hosts is not None and host and not host_allowed(host, allowed_hosts):
        raise UnsafeUrl(f"host {host} tidak termasuk layanan yang diizinkan")
    try:
        return await safe.resolve(url, allow=allowed_networks())
    except safe.OutboundRefused as exc:
        raise UnsafeUrl(str(exc)) from None


async def check_host(host: str) -> None:
    """An SMTP host (no URL): every address it resolves to must pass the same check."""
    if not host or any(c in host for c in "/@?#"):
        raise UnsafeUrl("nama host tidak valid")
    await check_url(f"https://{host}/")
