"""Who the client is: the socket peer, unless that peer is one of OUR reverse proxies.

``X-Forwarded-For`` is a header anyone can send. Only a peer listed in ``TRUSTED_PROXIES`` (the
load balancer's subnets) may set the client address and scheme; from anyone else the header is
ignored. Otherwise a new made-up address per attempt would bypass the login lockout and the
audit trail would record whatever address the client claims.

The app applies this itself (``install``), under ``siaga112 web``, ``siaga112 serve`` and the
tests alike, and uvicorn's own proxy-header handling is switched off so nothing trusts ``*``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core.networks import parse_networks
from app.core.origin import Origin


def trusted_hosts(setting: str) -> list[str]:
    """``TRUSTED_PROXIES`` as uvicorn's middleware takes it (addresses and CIDR networks)."""
    return [str(n) if n.num_addresses > 1 else str(n.network_address) for n in parse_networks(setting)]


def install(app: Any, setting: str) -> None:
    """Outermost middleware (add it last): trusted proxies' X-Forwarded-For/-Proto set the
    request's client and scheme; nobody else's. Nothing is installed when the list is empty."""
    hosts = trusted_hosts(setting)
    if hosts:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=hosts)


def client_address(conn: HTTPConnection | None) -> str | None:
    """The client's address as far as we can trust it (see the module docstring)."""
    if conn is None or conn.client is None:
        return None
    return conn.client.host


def origin_of(conn: HTTPConnection | None) -> Origin:
    """The request as the services see it: where it came from, nothing else."""
    return Origin(ip=client_address(conn))
