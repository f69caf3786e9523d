"""Outbound calls (SSRF): internal targets refused however written, checked again at send time,
sent to the checked address (no second DNS lookup) and never redirected."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.admin.service import check_webhook
from app.core.networks import parse_networks
from app.notify import jobs as notify_jobs
from app.notify.models import WebhookDelivery
from app.security import outbound
from tests.sla.conftest import set_webhook

LOOPBACK = parse_networks("127.0.0.0/8")

INTERNAL = [
    "https://127.1/x",
    "https://0x7f.0.0.1/x",
    "https://0177.0.0.1/x",
    "https://2130706433/x",
    "https://127.0.0.1.nip.io/x",
    "https://10-0-0-1.sslip.io/x",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:7f00:1]/x",
    "https://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
    "https://169.254.169.254/latest/meta-data",
    "https://[fd00:ec2::254]/x",
    "https://100.64.0.1/x",  # carrier-grade NAT
    "https://10.1.2.3/x",
    "https://192.168.1.1/x",
    "https://0.0.0.0/x",
    "https://224.0.0.1/x",
    "https://localhost/x",
    "https://api.internal/x",
    "https://intranet/x",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_targets_refused_when_saved(url):
    assert check_webhook(url) == outbound.REFUSED_INTERNAL, url


@pytest.mark.parametrize(
    "url", ["https://bpbd.solokkota.go.id/112/webhook", "https://8.8.8.8/hook", "https://[2606:4700::1]/h"]
)
def test_public_targets_accepted(url):
    assert check_webhook(url) is None


def test_legacy_ipv4_notations_parse_like_inet_aton():
    assert outbound.parse_host("127.1") == ipaddress.ip_address("127.0.0.1")
    assert outbound.parse_host("0x7f.1") == ipaddress.ip_address("127.0.0.1")
    assert outbound.parse_host("3232235777") == ipaddress.ip_address("192.168.1.1")
    assert outbound.parse_host("bpbd.go.id") is None
    assert outbound.parse_host("1.2.3.4.5") is None
    with pytest.raises(outbound.OutboundRefused):
        outbound.parse_host("١٢٧.٠.٠.١")  # Arabic-Indic digits: never a host we resolve
    with pytest.raises(outbound.OutboundRefused):
        outbound.parse_host("[fe80::1%eth0]")


def fixed_resolver(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


async def test_resolved_addresses_are_all_checked():
    public_then_private = fixed_resolver({"hook.uji.id": ["8.8.8.8", "10.0.0.5"]})
    with pytest.raises(outbound.OutboundRefused, match="jaringan internal"):
        await outbound.resolve("https://hook.uji.id/x", resolver=public_then_private)
    metadata = fixed_resolver({"meta.uji.id": ["169.254.169.254"]})
    with pytest.raises(outbound.OutboundRefused):
        await outbound.resolve("https://meta.uji.id/x", resolver=metadata)
    with pytest.raises(outbound.OutboundRefused, match="DNS"):
        await outbound.resolve("https://tidak-ada.uji.id/x", resolver=fixed_resolver({}))
    ok = await outbound.resolve(
        "https://hook.uji.id/x", resolver=fixed_resolver({"hook.uji.id": ["8.8.4.4"]})
    )
    assert ok.address == ipaddress.ip_address("8.8.4.4") and ok.host == "hook.uji.id" and ok.port == 443


async def test_plain_http_only_to_allowed_networks():
    with pytest.raises(outbound.OutboundRefused, match="https"):
        await outbound.resolve("http://8.8.8.8/x")
    target = await outbound.resolve("http://127.0.0.1:9/x", allow=LOOPBACK)
    assert target.address == ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def http_server():
    """Loopback receiver: records (path, headers); /redirect answers 302 to /landed."""
    seen: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("location", "/landed")
            else:
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, seen
    server.shutdown()
    server.server_close()


async def test_connects_to_the_checked_address_and_never_follows_redirects(http_server):
    server, seen = http_server
    port = server.server_port
    # The name exists only in this resolver: the request can reach the server only if post()
    # connects to the address it checked, rather than resolving the name a second time.
    resolver = fixed_resolver({"hook.uji.test": ["127.0.0.1"]})
    url = f"http://hook.uji.test:{port}/redirect"
    resp = await outbound.post(url, content=b"{}", headers={}, allow=LOOPBACK, resolver=resolver)
    assert resp.status_code == 302
    assert [p for p, _ in seen] == ["/redirect"]  # the redirect was not followed
    assert seen[0][1]["host"] == f"hook.uji.test:{port}"
    with pytest.raises(outbound.OutboundRefused):
        await outbound.post(url, content=b"{}", headers={}, resolver=resolver)  # loopback not allowed
    assert len(seen) == 1


def _tls_pair(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tmp_path / "cert.pem", tmp_path / "key.pem", cert_pem


async def test_https_to_pinned_address_verifies_the_certificate_for_the_host_name(http_server, tmp_path):
    server, seen = http_server
    cert, key, cert_pem = _tls_pair(tmp_path, "hook.uji.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    resolver = fixed_resolver({"hook.uji.test": ["127.0.0.1"], "lain.uji.test": ["127.0.0.1"]})
    url = f"https://hook.uji.test:{server.server_port}/ok"
    resp = await outbound.post(
        url, content=b"{}", headers={}, allow=LOOPBACK, resolver=resolver, verify=client_ctx
    )
    assert resp.status_code == 204 and seen[-1][0] == "/ok"
    # Same address, another name: the certificate does not match it, so the call fails.
    import httpx

    with pytest.raises(httpx.ConnectError):
        await outbound.post(
            f"https://lain.uji.test:{server.server_port}/ok",
            content=b"{}",
            headers={},
            allow=LOOPBACK,
            resolver=resolver,
            verify=client_ctx,
        )


async def test_webhook_target_checked_at_send_time(db, settings, tenant_factory, http_server):
    """The URL passed the check when it was saved; now its name resolves to loopback (DNS
    changed): the delivery is refused, not retried, and nothing is sent."""
    server, seen = http_server
    t = await tenant_factory()
    opd_id = await set_webhook(db, t.slug, "damkar", url=f"https://localhost:{server.server_port}/hook")
    async with db.tenant(t.slug) as s:
        delivery = WebhookDelivery(
            opd_id=opd_id,
            event="sla.breached",
            payload={"x": 1},
            dedupe_key="uji",
            status="pending",
            attempts=0,
        )
        s.add(delivery)
        await s.commit()
        delivery_id = delivery.id
    strict = settings.model_copy(update={"outbound_allow_networks": ""})
    ctx = {"db": db, "settings": strict, "job_try": 1}
    assert await notify_jobs.deliver_webhook(ctx, t.slug, delivery_id) == "refused"
    async with db.tenant(t.slug) as s:
        row = await s.get(WebhookDelivery, delivery_id)
    assert row.status == "failed" and row.last_error.startswith("refused:")
    assert seen == []


async def test_pinned_requests_share_a_client_per_host_name_never_across_names():
    """A client (and SSL context) per request cost an alert worker over half its CPU; pooled
    clients are per host name, so a connection verified for one name never carries another's."""
    a = outbound.Target(
        url="https://a.uji.test/x",
        scheme="https",
        host="a.uji.test",
        port=443,
        address=ipaddress.ip_address("127.0.0.1"),
    )
    b = outbound.Target(
        url="https://b.uji.test/x",
        scheme="https",
        host="b.uji.test",
        port=443,
        address=ipaddress.ip_address("127.0.0.1"),
    )
    try:
        assert outbound._pinned_client(a, True) is outbound._pinned_client(a, True)
        assert outbound._pinned_client(a, True) is not outbound._pinned_client(b, True)
        ctx = ssl.create_default_context()
        assert outbound._pinned_client(a, ctx) is not outbound._pinned_client(a, True)
    finally:
        await outbound.close_pinned_clients()
    assert not [k for k in outbound._pinned if k[1] in ("a.uji.test", "b.uji.test")]
