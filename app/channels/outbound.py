"""Outbound HTTP for channel adapters: one shared client, and an SSRF guard for URLs that come
from users (an admin's SMS gateway URL, a browser's push endpoint).

Provider base URLs (WhatsApp, Telegram) are settings and trusted. A user-supplied URL must be
http(s), and its host must not resolve to a loopback, private, link-local or reserved address
unless OUTBOUND_ALLOW_PRIVATE is on (tests, on-premises gateways). Push endpoints additionally
must be on WEBPUSH_ALLOWED_HOSTS. The check runs when the URL is saved AND before each send
(DNS can change); redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from app.config import get_settings

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


def host_allowed(host: str, patterns: str) -> bool:
    host = host.lower().rstrip(".")
    for p in (x.strip().lower() for x in patterns.split(",") if x.strip()):
        if p.startswith("*.") and (host.endswith(p[1:]) or host == p[2:]):
            return True
        if host == p:
            return True
    return False


def _is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return addr.is_global and not addr.is_multicast


async def check_url(url: str, *, allowed_hosts: str | None = None) -> str:
    """The URL, if it may be fetched; raises UnsafeUrl otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("URL harus diawali https:// dan memuat nama host")
    if parts.username or parts.password:
        raise UnsafeUrl("URL tidak boleh memuat nama pengguna/kata sandi")
    await check_host(parts.hostname, allowed_hosts=allowed_hosts)
    return url


async def check_host(host: str, *, allowed_hosts: str | None = None) -> None:
    settings = get_settings()
    if allowed_hosts is not None and not host_allowed(host, allowed_hosts):
        raise UnsafeUrl(f"host {host} tidak termasuk layanan yang diizinkan")
    if settings.outbound_allow_private:
        return
    await ensure_public(host)


async def ensure_public(host: str, port: int | None = None) -> None:
    """EVERY address ``host`` resolves to must be globally routable (no loopback, private,
    link-local such as the metadata endpoint, reserved or multicast); raises UnsafeUrl.
    Also used by the recording fetch (app/recordings/fetch.py)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"host {host} tidak dapat ditemukan") from exc
    for info in infos:
        if not _is_public(str(info[4][0])):
            raise UnsafeUrl(f"host {host} menunjuk ke alamat jaringan internal ({info[4][0]})")
