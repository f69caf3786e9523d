"""SSO against a real OpenID Connect provider (Authlib server side) running in this process."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog, PlatformAuditLog
from app.security.models import OidcProvider, PlatformOidcProvider
from tests.security.oidc_idp import TestIdP
from tests.servers import free_port


@pytest.fixture(scope="module")
def idp():
    with TestIdP().serving() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _reset(idp):
    idp.tamper = None
    yield
    idp.tamper = None


async def _configure_tenant(admin_client, idp, tenant) -> None:
    client = idp.register(f"siaga112-{tenant.slug}", [f"https://testserver/t/{tenant.slug}/sso/callback"])
    resp = await admin_client.post(
        f"/t/{tenant.slug}/admin/sso",
        data={
            "csrf_token": admin_client.csrf,
            "issuer": idp.url,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "label": "SSO Diskominfo",
            "enabled": "true",
        },
    )
    assert resp.status_code == 200 and "tersimpan" in resp.text, resp.text[:500]
    assert client.client_secret not in resp.text


async def _round_trip(client, start: str, *, tamper_state: bool = False) -> httpx.Response:
    resp = await client.get(start)
    assert resp.status_code == 303, resp.text[:300]
    authorize = resp.headers["location"]
    query = parse_qs(urlparse(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    async with httpx.AsyncClient() as browser_side:
        back = await browser_side.get(authorize)
    assert back.status_code == 302, back.text
    callback = urlparse(back.headers["location"])
    path = f"{callback.path}?{callback.query}"
    if tamper_state:
        path = re.sub(r"state=[^&]+", "state=forged", path)
    return await client.get(path, headers={"accept": "text/html"})


async def test_tenant_sso_login_maps_verified_email_to_existing_user(
    admin_client, idp, tenant_a, user_factory, client, db
):
    await _configure_tenant(admin_client, idp, tenant_a)
    async with db.tenant(tenant_a.slug) as s:
        stored = (await s.execute(select(OidcProvider))).scalars().one()
        assert (
            stored.client_secret_enc
            and idp.clients[stored.client_id].client_secret not in stored.client_secret_enc
        )
    page = await client.get(f"/t/{tenant_a.slug}/login")
    assert "Masuk dengan SSO" in page.text

    operator = await user_factory(tenant_a, "operator")
    idp.user = {"sub": "kc-123", "email": operator.email.upper(), "name": "Op"}
    resp = await _round_trip(client, f"/t/{tenant_a.slug}/sso/login")
    assert resp.status_code == 303 and resp.headers["location"] == f"/t/{tenant_a.slug}/", re.findall(
        r"e-sso.*", resp.text
    )
    home = await client.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert home.status_code == 200 and operator.full_name in home.text
    async with db.tenant(tenant_a.slug) as s:
        row = (
            (
                await s.execute(
                    select(AuditLog).where(
                        AuditLog.action == "login.success", AuditLog.actor_id == operator.id
                    )
                )
            )
            .scalars()
            .one()
        )
    assert row.after["method"] == "sso" and row.ip


@pytest.mark.parametrize("tamper", ["key", "issuer", "audience", "nonce"])
async def test_forged_id_tokens_are_refused(admin_client, idp, tenant_a, user_factory, client, tamper):
    await _configure_tenant(admin_client, idp, tenant_a)
    operator = await user_factory(tenant_a, "operator")
    idp.user = {"sub": "kc-1", "email": operator.email}
    idp.tamper = tamper
    resp = await _round_trip(client, f"/t/{tenant_a.slug}/sso/login")
    assert resp.status_code == 400 and 'id="e-sso"' in resp.text, (tamper, resp.status_code, resp.text[:300])
    home = await client.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert home.status_code == 303  # still not logged in


async def test_forged_state_is_refused(admin_client, idp, tenant_a, user_factory, client):
    await _configure_tenant(admin_client, idp, tenant_a)
    operator = await user_factory(tenant_a, "operator")
    idp.user = {"sub": "kc-2", "email": operator.email}
    resp = await _round_trip(client, f"/t/{tenant_a.slug}/sso/login", tamper_state=True)
    assert resp.status_code == 403 and "tidak sah" in resp.text
    # A callback with no login in progress (login CSRF) is refused too.
    stray = await client.get(
        f"/t/{tenant_a.slug}/sso/callback?code=x&state=y", headers={"accept": "text/html"}
    )
    assert stray.status_code == 403


async def test_unknown_unverified_or_other_tenant_email_is_refused(
    admin_client, idp, tenant_a, tenant_b, user_factory, client, db
):
    await _configure_tenant(admin_client, idp, tenant_a)
    other = await user_factory(tenant_b, "operator")
    mine = await user_factory(tenant_a, "operator")
    for user in (
        {"sub": "x1", "email": other.email},
        {"sub": "x2", "email": "nobody@contoh.go.id"},
        {"sub": "x3", "email": mine.email, "email_verified": False},
    ):
        idp.user = user
        resp = await _round_trip(client, f"/t/{tenant_a.slug}/sso/login")
        assert resp.status_code == 403 and "tidak terdaftar" in resp.text, user
    async with db.tenant(tenant_a.slug) as s:
        failures = (
            (
                await s.execute(
                    select(AuditLog).where(
                        AuditLog.action == "login.failure", AuditLog.actor_label == other.email
                    )
                )
            )
            .scalars()
            .all()
        )
    assert failures and failures[0].after["method"] == "sso"


async def test_sso_settings_validate_and_never_show_secret(admin_client, idp, tenant_a, db):
    base = f"/t/{tenant_a.slug}/admin/sso"
    bad = await admin_client.post(
        base,
        data={
            "csrf_token": admin_client.csrf,
            "issuer": "ftp://x",
            "client_id": "",
            "client_secret": "",
            "label": "SSO",
        },
    )
    assert bad.status_code == 422
    for f in ("issuer", "client_id"):
        assert f'id="e-{f}"' in bad.text
    unreachable = await admin_client.post(
        base,
        data={
            "csrf_token": admin_client.csrf,
            "issuer": f"http://127.0.0.1:{free_port()}",
            "client_id": "c",
            "client_secret": "s3cret-value",
            "label": "SSO",
        },
    )
    assert unreachable.status_code == 422 and "tidak dapat dihubungi" in unreachable.text
    await _configure_tenant(admin_client, idp, tenant_a)
    page = await admin_client.get(base)
    async with db.tenant(tenant_a.slug) as s:
        stored = (await s.execute(select(OidcProvider))).scalars().one()
    assert idp.clients[stored.client_id].client_secret not in page.text and "tersimpan" in page.text
    # Saving again without a secret keeps the stored one.
    again = await admin_client.post(
        base,
        data={
            "csrf_token": admin_client.csrf,
            "issuer": idp.url,
            "client_id": stored.client_id,
            "client_secret": "",
            "label": "SSO Baru",
            "enabled": "true",
        },
    )
    assert again.status_code == 200
    async with db.tenant(tenant_a.slug) as s:
        assert (
            await s.execute(select(OidcProvider))
        ).scalars().one().client_secret_enc == stored.client_secret_enc


async def test_kominfo_logs_in_with_national_provider(
    platform_admin_client, platform_user_factory, idp, client, db
):
    reg = idp.register("siaga112-national", ["https://testserver/login/sso/callback"])
    resp = await platform_admin_client.post(
        "/platform/sso",
        data={
            "csrf_token": platform_admin_client.csrf,
            "issuer": idp.url,
            "client_id": reg.client_id,
            "client_secret": reg.client_secret,
            "label": "SSO Komdigi",
            "enabled": "true",
        },
    )
    assert resp.status_code == 200, resp.text[:300]
    assert "Masuk dengan SSO" in (await client.get("/login")).text
    kominfo = await platform_user_factory("kominfo")
    idp.user = {"sub": "nat-1", "email": kominfo.email}
    resp = await _round_trip(client, "/login/sso")
    assert resp.status_code == 303 and resp.headers["location"] == "/national"
    async with db.public() as s:
        row = (
            (
                await s.execute(
                    select(PlatformAuditLog).where(
                        PlatformAuditLog.action == "login.success", PlatformAuditLog.actor_id == kominfo.id
                    )
                )
            )
            .scalars()
            .one()
        )
    assert row.after == {"method": "sso"}
    async with db.public() as s:
        await s.execute(PlatformOidcProvider.__table__.update().values(enabled=False))
        await s.commit()
