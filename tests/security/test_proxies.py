"""Client addresses: X-Forwarded-For only from TRUSTED_PROXIES; the login lockout also counts
per account, so rotating (or forging) addresses does not buy more guesses."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.auth.ratelimit import ACCOUNT_FREE_FAILURES, FREE_FAILURES
from app.config import Settings
from tests.conftest import TEST_PASSWORD, csrf_of, login


def _client(app, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 50000)), base_url="https://testserver"
    )


async def _audit_ips(db, slug: str, email: str) -> list[str]:
    async with db.tenant(slug) as s:
        return [
            ip
            for (ip,) in await s.execute(
                select(AuditLog.ip).where(AuditLog.actor_label == email).order_by(AuditLog.id)
            )
        ]


async def test_forged_forwarded_for_does_not_bypass_lockout_on_the_web_server(
    live_server, tenant_a, user_factory, db
):
    """Served exactly as `siaga112 web` serves it: a new X-Forwarded-For per attempt changes
    nothing, the 13th attempt (right password) is refused and the audit has the real peer."""
    user = await user_factory(tenant_a, "operator")
    url = f"{live_server}/t/{tenant_a.slug}/login"
    async with httpx.AsyncClient() as c:
        page = await c.get(url)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"email": user.email, "password": "salah-sandi-999", "csrf_token": token}
        for i in range(12):
            r = await c.post(url, data=form, headers={"x-forwarded-for": f"198.51.100.{i + 1}"})
            assert r.status_code in (401, 429)
        right = await c.post(
            url, data={**form, "password": TEST_PASSWORD}, headers={"x-forwarded-for": "198.51.100.99"}
        )
    assert right.status_code == 429
    assert set(await _audit_ips(db, tenant_a.slug, user.email)) == {"127.0.0.1"}


async def test_lockout_counts_per_account_across_addresses(app, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    assert FREE_FAILURES < ACCOUNT_FREE_FAILURES
    for _ in range(ACCOUNT_FREE_FAILURES):  # each from its own address: no per-address lock
        async with _client(app, f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}") as c:
            assert (await login(c, tenant_a.slug, user.email, "salah-sandi-999")).status_code == 401
    async with _client(app, "10.78.0.1") as c:
        locked = await login(c, tenant_a.slug, user.email)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Terlalu banyak percobaan" in locked.text


@pytest.fixture(scope="module")
async def proxied_app(settings, engine):
    from app.main import create_app

    application = create_app(settings.model_copy(update={"trusted_proxies": "10.200.0.0/16, 10.201.0.9"}))
    async with application.router.lifespan_context(application):
        yield application


async def test_only_trusted_proxies_set_the_client_address(proxied_app, tenant_a, user_factory, db):
    user = await user_factory(tenant_a, "operator")
    forwarded = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}
    for peer in ("10.200.3.4", "10.201.0.9", "10.202.0.1"):
        async with _client(proxied_app, peer) as c:
            token = await csrf_of(c, f"/t/{tenant_a.slug}/login")
            r = await c.post(
                f"/t/{tenant_a.slug}/login",
                data={"email": user.email, "password": "salah-1", "csrf_token": token},
                headers=forwarded,
            )
            assert r.status_code == 401
    # Behind a trusted proxy: the forwarded address; from anyone else: the peer itself.
    assert await _audit_ips(db, tenant_a.slug, user.email) == ["203.0.113.7", "203.0.113.7", "10.202.0.1"]


def test_trusted_proxies_setting_is_validated():
    assert Settings(trusted_proxies="").trusted_proxies == ""
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="10.0.0.0/8, alb.internal")
