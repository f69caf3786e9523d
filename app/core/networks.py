"""IP network lists as the settings spell them (``"10.0.1.0/24, 10.0.2.7"``).

Here, not in app.security.outbound, because ``app.config`` checks ``TRUSTED_PROXIES`` and
``OUTBOUND_ALLOW_NETWORKS`` at start-up: the configuration must not depend on a domain package.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """``"10.0.1.0/24, 10.0.2.7"`` → networks; raises ValueError naming a bad entry."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR network: {item!r}") from None
    return tuple(out)
