"""Safe outbound HTTP: every request the platform makes to an address someone typed in.

OPD webhooks and the channel adapters post emergency data to URLs that tenant admins configure.
An unchecked URL lets an admin (or whoever steals an admin session) make our servers call the
cloud metadata service, the database or anything else on the private network (SSRF). So:

* ``check_url(url)`` is the cheap check when a URL is saved: https, no credentials, and a host
  that is not an internal name or a non-public address, whatever notation the address is
  written in (``127.1``, ``0x7f.0.0.1``, ``2130706433``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``).
* ``resolve(url)`` is the check at send time: the host name is resolved and EVERY address it
  resolves to must be public (DNS can change after the URL was saved).
* ``post(url, ...)`` connects to the address that was checked (not a second DNS lookup, so DNS
  rebinding cannot swap it), keeps the original host name for the ``Host`` header, TLS SNI and
  certificate verification, and never follows redirects (a 3xx is returned as the response).

Addresses in ``allow`` (``OUTBOUND_ALLOW_NETWORKS``) pass although not public: for tests and
for a deliberate on-premise receiver; empty in production.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.core.networks import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Not reachable on the public internet, or not meant to be called: refused even where Python's
# ``is_global`` would say yes (it changed between Python versions; this list does not).
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
        "::/128",
        "::1/128",
        "::ffff:0:0/96",  # IPv4-mapped (checked again as IPv4 below)
        "64:ff9b::/96",  # NAT64 (embedded IPv4 checked below)
        "64:ff9b:1::/48",
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID …)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4 (embedded IPv4 checked below)
        "fc00::/7",  # unique local, incl. AWS metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")
MAX_ADDRESSES = 16

REFUSED_INTERNAL = "Alamat tujuan harus alamat publik, bukan jaringan internal"
REFUSED_SCHEME = "Alamat tujuan harus memakai https:// (data darurat tidak boleh dikirim tanpa enkripsi)"
REFUSED_FORM = "URL tidak valid (contoh: https://bpbd.solokkota.go.id/112/webhook)"


class OutboundRefused(Exception):
    """The target may not be called. ``str(exc)`` is a sentence a tenant admin can act on."""


@dataclass(frozen=True)
class Target:
    """A URL whose host resolved to ``address``, which was checked and is where we connect."""

    url: str
    scheme: str
    host: str  # as written (lower-case, no brackets): the Host header, SNI and certificate name
    port: int
    address: IPAddress


def _inet_aton_part(part: str) -> int | None:
    """One part of a BSD-style IPv4 literal: decimal, 0x-hex or 0-prefixed octal; ASCII only."""
    if not part or not part.isascii():
        return None
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if part[2:] else 0
        if len(part) > 1 and part[0] == "0":
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The forms ``inet_aton`` (and so curl, browsers, many HTTP stacks) accept: ``127.1``,
    ``0x7f.0.0.1``, ``0177.0.0.1``, ``2130706433``. ``None`` if ``host`` is not one of them."""
    parts = host.split(".")
    if len(parts) > 4:
        return None
    values = [_inet_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def parse_host(host: str) -> IPAddress | None:
    """The IP address ``host`` denotes if it is an address literal in any notation, else None.

    Raises OutboundRefused for hosts no resolver should be given (IPv6 zone ids, odd bytes).
    """
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if "%" in h or not h.isascii():
        raise OutboundRefused(REFUSED_FORM)
    if ":" in h:
        try:
            return ipaddress.IPv6Address(h)
        except ValueError:
            raise OutboundRefused(REFUSED_FORM) from None
    return _legacy_ipv4(h)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in ipaddress.IPv6Network("64:ff9b::/96"):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _in(ip: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def address_allowed(ip: IPAddress, allow: Sequence[IPNetwork] = ()) -> bool:
    """True when ``ip`` may be called: in ``allow``, or public (global, not in BLOCKED_NETWORKS,
    and no blocked IPv4 address hidden inside an IPv6 one)."""
    if _in(ip, allow):
        return True
    if not ip.is_global or _in(ip, BLOCKED_NETWORKS):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return all(address_allowed(v4, allow) for v4 in _embedded_ipv4(ip))
    return True


def _embeds_internal_ipv4(name: str) -> bool:
    """Wildcard-DNS names that spell an address (``127.0.0.1.nip.io``, ``10-0-0-1.sslip.io``):
    refused when saved if that address is internal (send time resolves and checks anyway)."""
    labels = name.split(".")
    candidates = [".".join(labels[i : i + 4]) for i in range(len(labels) - 3)]
    candidates += [label.replace("-", ".") for label in labels if label.count("-") == 3]
    for text in candidates:
        try:
            ip = ipaddress.IPv4Address(text)
        except ValueError:
            continue
        if not address_allowed(ip):
            return True
    return False


def _split(url: str, require_https: bool) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(REFUSED_FORM) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (require_https and scheme != "https"):
        raise OutboundRefused(REFUSED_SCHEME if scheme in ("http", "") or require_https else REFUSED_FORM)
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise OutboundRefused(REFUSED_FORM)
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise OutboundRefused(REFUSED_FORM)
    return scheme, parts.hostname.lower().rstrip("."), port or (443 if scheme == "https" else 80)


def check_url(url: str, *, require_https: bool = True, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Problems with a target URL as typed (no DNS lookup), or None. For forms and manifests."""
    try:
        _, host, _ = _split(url, require_https)
        ip = parse_host(host)
    except OutboundRefused as exc:
        return str(exc)
    if ip is not None:
        return None if address_allowed(ip, allow) else REFUSED_INTERNAL
    if (
        host == "localhost"
        or host.endswith(INTERNAL_SUFFIXES)
        or "." not in host
        or _embeds_internal_ipv4(host)
    ):
        return REFUSED_INTERNAL
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (A and AAAA)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve(
    url: str,
    *,
    allow: Sequence[IPNetwork] = (),
    resolver: Resolver | None = None,
    timeout_s: float = 5.0,
) -> Target:
    """Resolve ``url``'s host and check every address; the Target to connect to, or OutboundRefused.

    All addresses must pass, not just one: otherwise a name with one public and one internal
    record would be refused or allowed depending on which the HTTP client picked. Plain http is
    refused unless every address is in ``allow`` (a local test server, an on-premise receiver).
    """
    scheme, host, port = _split(url, require_https=False)
    literal = parse_host(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            async with asyncio.timeout(timeout_s):
                found = await (resolver or system_resolver)(host, port)
        except (OSError, TimeoutError, UnicodeError):
            raise OutboundRefused(f"Nama host {host} tidak dapat di-resolve (DNS)") from None
        addresses = []
        for text in found[:MAX_ADDRESSES]:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                raise OutboundRefused(REFUSED_INTERNAL) from None
        if not addresses:
            raise OutboundRefused(f"Nama host {host} tidak dapat di-resolve (DNS)")
    if not all(address_allowed(a, allow) for a in addresses):
        raise OutboundRefused(REFUSED_INTERNAL)
    if scheme != "https" and not all(_in(a, allow) for a in addresses):
        raise OutboundRefused(REFUSED_SCHEME)
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


async def post(
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float = 10.0,
    allow: Sequence[IPNetwork] = (),
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Response:
    """POST ``content`` to ``url`` after ``resolve``: connects to the checked address, sends the
    original host name as Host/SNI (the certificate is verified for that name), no redirects.

    Raises OutboundRefused before any connection is made, httpx.HTTPError for network failures.
    """
    target = await resolve(url, allow=allow, resolver=resolver)
    return await send(target, "POST", content=content, headers=headers, timeout_s=timeout_s, verify=verify)


async def send(
    target: Target,
    method: str,
    *,
    content: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Response:
    """One request to an already resolved and checked Target (see ``post``)."""
    pinned = httpx.URL(target.url).copy_with(host=str(target.address))
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header = f"{host_header}:{target.port}"
    request_headers = {**(headers or {}), "host": host_header}
    return await _pinned_client(target, verify).request(
        method,
        pinned,
        content=content,
        headers=request_headers,
        timeout=timeout_s,
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )


# Pooled clients for pinned requests, one per (event loop, host name, scheme, port, TLS settings).
# A client per request built a fresh SSL context each time (loading the CA bundle): over half of
# an alert worker's CPU. Keyed by host NAME, not only by the address the URL is pinned to, so a
# connection verified for one name is never reused for another name on the same address.
_PINNED_MAX = 64
_pinned: OrderedDict[tuple, httpx.AsyncClient] = OrderedDict()
_closing: set[asyncio.Task] = set()


def _pinned_client(target: Target, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    key = (
        id(loop),
        target.host,
        target.scheme,
        target.port,
        verify if isinstance(verify, bool) else id(verify),
    )
    client = _pinned.get(key)
    if client is not None and not client.is_closed:
        _pinned.move_to_end(key)
        return client
    client = _pinned[key] = httpx.AsyncClient(follow_redirects=False, verify=verify, trust_env=False)
    while len(_pinned) > _PINNED_MAX:
        _, old = _pinned.popitem(last=False)
        closing = loop.create_task(old.aclose())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
    return client


async def close_pinned_clients() -> None:
    """Close this event loop's pooled pinned clients (app lifespan / worker shutdown)."""
    loop = id(asyncio.get_running_loop())
    for key in [k for k in _pinned if k[0] == loop]:
        await _pinned.pop(key).aclose()
