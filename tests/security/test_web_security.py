"""Headers, cookies, login throttling, login audit, session expiry, logout everywhere, password policy."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from app.audit.models import AuditLog, PlatformAuditLog
from app.auth.models import User
from app.auth.ratelimit import FREE_FAILURES, IP_MAX_FAILURES
from app.namespace import namespace
from tests.conftest import TEST_PASSWORD, csrf_of, login
from tests.security.conftest import platform_login

ROOT = Path(__file__).resolve().parents[2]


def _client(app, ip: str | None = None) -> httpx.AsyncClient:
    ip = ip or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 50000)), base_url="https://testserver"
    )


async def test_security_headers_on_pages_api_and_static(client, tenant_a):
    for path in (f"/t/{tenant_a.slug}/login", "/healthz", "/static/css/app.css", "/no-such-page"):
        resp = await client.get(path, headers={"accept": "text/html"})
        h = resp.headers
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "img-src 'self' data:;" in csp  # no tile server configured: no outside images at all
        assert "unsafe-eval" not in csp and "script-src 'self';" in csp
        assert [d for d in csp.split("; ") if "unsafe-inline" in d] == ["style-src-attr 'unsafe-inline'"]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "strict-origin-when-cross-origin"
        assert h["strict-transport-security"].startswith("max-age=")  # cookie_secure in tests


def test_templates_have_nothing_the_csp_would_block():
    """Inline <script>, on* handlers, <style> blocks and hx-on need 'unsafe-inline'/'unsafe-eval'.

    (style="" attributes are allowed by style-src-attr; JSON data blocks are not scripts.)
    """
    bad = re.compile(
        r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|\son[a-z]+\s*=|<style\b|hx-on|"
        r"javascript:|"
        r"https?://(?!\*\.tile\.openstreetmap)[a-z0-9.-]+\.(?:com|net|org|io)/[^\"']*\.(?:js|css)"
    )
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if bad.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not offenders, "move inline JS/CSS to app/static (CSP):\n" + "\n".join(offenders)


async def test_session_cookie_flags(app, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    async with _client(app) as c:
        resp = await login(c, tenant_a.slug, user.email)
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie and "max-age=" in cookie


async def test_lockout_with_backoff_then_success_resets(app, tenant_a, user_factory, db, redis_client):
    user = await user_factory(tenant_a, "operator")
    async with _client(app) as c:
        token = await csrf_of(c, f"/t/{tenant_a.slug}/login")
        form = {"email": user.email, "password": "salah-sandi-999", "csrf_token": token}
        statuses = [
            (await c.post(f"/t/{tenant_a.slug}/login", data=form)).status_code for _ in range(FREE_FAILURES)
        ]
        assert statuses == [401] * FREE_FAILURES
        # Locked now: even the right password is refused with 429 + Retry-After and a clear message.
        locked = await c.post(f"/t/{tenant_a.slug}/login", data={**form, "password": TEST_PASSWORD})
        assert locked.status_code == 429
        assert 30 <= int(locked.headers["retry-after"]) <= 30
        assert "Terlalu banyak percobaan" in locked.text and 'id="e-password"' in locked.text
        # Another IP is not locked out of the same account (no remote lockout of operators).
        async with _client(app) as other:
            assert (await login(other, tenant_a.slug, user.email)).status_code == 303
        # Backoff doubles: expire the lock, fail once more -> 60 s.
        keys = [k for k in redis_client.scan_iter(f"{namespace()}:login:*lock*")]
        redis_client.delete(*keys)
        assert (await c.post(f"/t/{tenant_a.slug}/login", data=form)).status_code == 401
        again = await c.post(f"/t/{tenant_a.slug}/login", data=form)
        assert again.status_code == 429 and 55 <= int(again.headers["retry-after"]) <= 60
        redis_client.delete(*redis_client.keys(f"{namespace()}:login:*lock*"))
        assert (
            await c.post(f"/t/{tenant_a.slug}/login", data={**form, "password": TEST_PASSWORD})
        ).status_code == 303
    async with db.tenant(tenant_a.slug) as s:
        actions = [
            a for (a,) in (await s.execute(select(AuditLog.action).where(AuditLog.actor_label == user.email)))
        ]
    assert actions.count("login.failure") == FREE_FAILURES + 1 and "login.success" in actions


async def test_per_ip_cap_stops_credential_stuffing(app, tenant_a, redis_client):
    ip = "10.250.1.1"
    async with _client(app, ip) as c:
        token = await csrf_of(c, f"/t/{tenant_a.slug}/login")
        # Earlier failures from this IP (each costs an argon2 verify; seeded to keep the test quick).
        redis_client.set(f"{namespace()}:login:ip:{ip}", IP_MAX_FAILURES - 2, ex=600)
        for i in range(2):
            r = await c.post(
                f"/t/{tenant_a.slug}/login",
                data={"email": f"korban{i}@contoh.id", "password": "Sandi-123456", "csrf_token": token},
            )
            assert r.status_code == 401
        blocked = await c.post(
            f"/t/{tenant_a.slug}/login",
            data={"email": "baru@contoh.id", "password": "Sandi-123456", "csrf_token": token},
        )
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    redis_client.delete(f"{namespace()}:login:ip:{ip}")


async def test_logins_and_logout_are_audited_with_ip(app, tenant_a, user_factory, db, platform_user_factory):
    user = await user_factory(tenant_a, "supervisor")
    async with _client(app, "10.9.8.7") as c:
        assert (await login(c, tenant_a.slug, user.email, "salah-sekali-1")).status_code == 401
        assert (await login(c, tenant_a.slug, user.email)).status_code == 303
        assert (
            await c.post("/logout", data={"csrf_token": await csrf_of(c, f"/t/{tenant_a.slug}/login")})
        ).status_code == 303
    async with db.tenant(tenant_a.slug) as s:
        rows = (
            (
                await s.execute(
                    select(AuditLog)
                    .where((AuditLog.actor_label == user.email) | (AuditLog.actor_id == user.id))
                    .order_by(AuditLog.id)
                )
            )
            .scalars()
            .all()
        )
    assert [r.action for r in rows] == ["login.failure", "login.success", "logout"]
    assert {r.ip for r in rows} == {"10.9.8.7"}

    pu = await platform_user_factory("kominfo")
    async with _client(app, "10.9.8.6") as c:
        assert (await platform_login(c, pu.email, "bukan-sandi-1")).status_code == 401
        assert (await platform_login(c, pu.email)).status_code == 303
        assert (await c.post("/logout", data={"csrf_token": await csrf_of(c, "/login")})).status_code == 303
    async with db.public() as s:
        rows = (
            (
                await s.execute(
                    select(PlatformAuditLog)
                    .where((PlatformAuditLog.actor_label == pu.email) | (PlatformAuditLog.actor_id == pu.id))
                    .order_by(PlatformAuditLog.id)
                )
            )
            .scalars()
            .all()
        )
    assert [r.action for r in rows] == ["login.failure", "login.success", "logout"]


async def test_logout_everywhere_kills_other_sessions(app, tenant_a, user_factory, db):
    user = await user_factory(tenant_a, "operator")
    async with _client(app) as laptop, _client(app) as phone:
        assert (await login(laptop, tenant_a.slug, user.email)).status_code == 303
        assert (await login(phone, tenant_a.slug, user.email)).status_code == 303
        page = await phone.get(f"/t/{tenant_a.slug}/profile")
        assert page.status_code == 200 and "Keluar dari semua perangkat" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        out = await phone.post(f"/t/{tenant_a.slug}/profile/logout-all", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == f"/t/{tenant_a.slug}/login"
        for c in (laptop, phone):
            r = await c.get(f"/t/{tenant_a.slug}/profile", headers={"accept": "text/html"})
            assert r.status_code == 303 and "/login" in r.headers["location"]
    async with db.tenant(tenant_a.slug) as s:
        assert (await s.get(User, user.id)).session_version == 2


async def test_session_has_an_absolute_lifetime(app, tenant_a, user_factory, monkeypatch):
    user = await user_factory(tenant_a, "operator")
    async with _client(app) as c:
        assert (await login(c, tenant_a.slug, user.email)).status_code == 303
        assert (await c.get(f"/t/{tenant_a.slug}/profile")).status_code == 200
        monkeypatch.setattr(app.state.settings, "session_max_age_s", -1)
        r = await c.get(f"/t/{tenant_a.slug}/profile", headers={"accept": "text/html"})
        assert r.status_code == 303 and "/login" in r.headers["location"]


async def test_password_change_enforces_policy(app, tenant_a, user_factory, db):
    user = await user_factory(tenant_a, "operator")
    async with _client(app) as c:
        assert (await login(c, tenant_a.slug, user.email)).status_code == 303
        token = await csrf_of(c, f"/t/{tenant_a.slug}/profile")
        base = f"/t/{tenant_a.slug}/profile/password"
        weak = await c.post(
            base,
            data={
                "csrf_token": token,
                "current_password": TEST_PASSWORD,
                "new_password": "pendek",
                "confirm_password": "pendek",
            },
        )
        assert weak.status_code == 422 and 'id="e-new_password"' in weak.text and "minimal 10" in weak.text
        wrong = await c.post(
            base,
            data={
                "csrf_token": token,
                "current_password": "bukan-ini-123",
                "new_password": "Sandi-baru-112",
                "confirm_password": "Sandi-baru-112",
            },
        )
        assert wrong.status_code == 422 and 'id="e-current_password"' in wrong.text
        async with db.tenant(tenant_a.slug) as s:
            assert (await s.get(User, user.id)).password_hash == user.password_hash
        ok = await c.post(
            base,
            data={
                "csrf_token": token,
                "current_password": TEST_PASSWORD,
                "new_password": "Sandi-baru-112",
                "confirm_password": "Sandi-baru-112",
            },
        )
        assert ok.status_code == 200 and "diganti" in ok.text
        assert (await c.get(f"/t/{tenant_a.slug}/profile")).status_code == 200  # this session survives
    async with _client(app) as c2:
        assert (await login(c2, tenant_a.slug, user.email, "Sandi-baru-112")).status_code == 303
