"""Login, logout and the boundaries between tenants and roles."""

from __future__ import annotations

from app.auth.passwords import hash_password, password_problems, verify_password
from tests.conftest import TEST_PASSWORD, csrf_of, login


def test_argon2_hash_roundtrip():
    h = hash_password("rahasia-112-ok")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "rahasia-112-ok")
    assert not verify_password(h, "salah")
    assert not verify_password(None, "apa saja")


def test_password_policy():
    assert password_problems("pendek1")
    assert password_problems("hanyahurufsaja")
    assert password_problems("operator-12345", email="operator@x.id")
    assert password_problems("kuat-dan-panjang-112") == []


async def test_operator_logs_in_and_out(client, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    resp = await login(client, tenant_a.slug, user.email)
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/t/{tenant_a.slug}/"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    page = await client.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert page.status_code == 200 and user.full_name in page.text
    token = await csrf_of(client, f"/t/{tenant_a.slug}/login")
    out = await client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    again = await client.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert again.status_code == 303 and "/login" in again.headers["location"]


async def test_wrong_password_shows_error_beside_field(client, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    resp = await login(client, tenant_a.slug, user.email, "salah-total-123")
    assert resp.status_code == 401
    assert 'id="e-password"' in resp.text and "salah" in resp.text


async def test_empty_login_form_is_422_with_field_errors(client, tenant_a):
    token = await csrf_of(client, f"/t/{tenant_a.slug}/login")
    resp = await client.post(f"/t/{tenant_a.slug}/login", data={"csrf_token": token})
    assert resp.status_code == 422
    assert 'id="e-email"' in resp.text


async def test_operator_of_a_cannot_log_in_to_b(client, tenant_a, tenant_b, user_factory):
    user = await user_factory(tenant_a, "operator")
    resp = await login(client, tenant_b.slug, user.email)
    assert resp.status_code == 401


async def test_session_of_a_is_not_a_session_of_b(client, tenant_a, tenant_b, user_factory):
    user = await user_factory(tenant_a, "operator")
    assert (await login(client, tenant_a.slug, user.email)).status_code == 303
    resp = await client.get(f"/t/{tenant_b.slug}/", headers={"accept": "text/html"})
    assert resp.status_code == 303 and resp.headers["location"].startswith(f"/t/{tenant_b.slug}/login")


async def test_login_without_csrf_token_is_refused(client, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    await client.get(f"/t/{tenant_a.slug}/login")
    resp = await client.post(
        f"/t/{tenant_a.slug}/login", data={"email": user.email, "password": TEST_PASSWORD}
    )
    assert resp.status_code == 403


async def test_deactivated_user_loses_session(client, tenant_a, user_factory, db):
    from app.auth.models import User

    user = await user_factory(tenant_a, "operator")
    assert (await login(client, tenant_a.slug, user.email)).status_code == 303
    async with db.tenant(tenant_a.slug) as s:
        (await s.get(User, user.id)).is_active = False
        await s.commit()
    resp = await client.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert resp.status_code == 303


async def test_open_redirect_is_ignored(client, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    token = await csrf_of(client, f"/t/{tenant_a.slug}/login")
    resp = await client.post(
        f"/t/{tenant_a.slug}/login",
        data={
            "email": user.email,
            "password": TEST_PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/x",
        },
    )
    assert resp.status_code == 303 and resp.headers["location"] == f"/t/{tenant_a.slug}/"


async def test_unknown_tenant_is_404(client):
    resp = await client.get("/t/tidak_ada/login")
    assert resp.status_code == 404


async def test_host_name_binds_tenant(settings, tenant_a):
    import httpx

    from app.main import create_app

    app = create_app(settings.model_copy(update={"tenant_domain": "112.test"}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"https://{tenant_a.slug}.112.test"
        ) as c,
    ):
        resp = await c.get("/login")
    assert resp.status_code == 200 and tenant_a.name in resp.text
