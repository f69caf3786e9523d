"""API tokens: shown once, stored hashed, scoped, tenant-bound, revocable, last-used tracked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.auth.tokens import hash_token
from app.security.models import ApiToken, PlatformApiToken

TOKEN_RE = re.compile(r"s112_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")


async def _create(client, base, **form):
    data = {"csrf_token": client.csrf, "name": "PBX uji", "kind": "service", "scopes": ["calls:read"]}
    data.update(form)
    resp = await client.post(base, data=data)
    return resp


async def test_token_shown_once_stored_hashed_and_works_only_on_its_tenant(
    app, admin_client, tenant_a, tenant_b, db, client
):
    base = f"/t/{tenant_a.slug}/admin/tokens"
    resp = await _create(admin_client, base, scopes=["calls:read", "telephony:webhook"])
    assert resp.status_code == 201, resp.text
    plain = TOKEN_RE.search(resp.text).group(0)
    # Never shown again: the list page only has the lookup prefix.
    page = await admin_client.get(base)
    assert page.status_code == 200 and plain not in page.text and plain[:17] in page.text
    async with db.tenant(tenant_a.slug) as s:
        row = (await s.execute(select(ApiToken).where(ApiToken.lookup == plain[5:17]))).scalar_one()
        assert row.token_hash == hash_token(plain) and plain not in repr(row.__dict__)
        assert row.scopes == ["calls:read", "telephony:webhook"] and row.last_used_at is None

    auth = {"authorization": f"Bearer {plain}"}
    me = await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)
    assert me.status_code == 200
    assert me.json() == {
        "kind": "token",
        "role": "service",
        "name": "PBX uji",
        "tenant": tenant_a.slug,
        "scopes": ["calls:read", "telephony:webhook"],
        "token_kind": "service",
        "opd_id": None,
    }
    # Tenant A's token does not exist in tenant B's schema.
    other = await client.get(f"/api/v1/t/{tenant_b.slug}/whoami", headers=auth)
    assert other.status_code == 401
    # Nor on the platform API.
    assert (await client.get("/api/v1/platform/whoami", headers=auth)).status_code == 401
    # A token with a tampered secret is refused.
    assert (
        await client.get(
            f"/api/v1/t/{tenant_a.slug}/whoami", headers={"authorization": f"Bearer {plain[:-2]}xx"}
        )
    ).status_code == 401

    async with db.tenant(tenant_a.slug) as s:
        row = (await s.execute(select(ApiToken).where(ApiToken.lookup == plain[5:17]))).scalar_one()
        first_use = row.last_used_at
        assert first_use is not None and row.last_used_ip
    # Within the minute: not rewritten (cheap); after it: updated.
    await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)
    async with db.tenant(tenant_a.slug) as s:
        assert (await s.get(ApiToken, row.id)).last_used_at == first_use
        await s.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(last_used_at=first_use - timedelta(minutes=5))
        )
        await s.commit()
    await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)
    async with db.tenant(tenant_a.slug) as s:
        assert (await s.get(ApiToken, row.id)).last_used_at > first_use

    # Revoke: refused from then on, and audited.
    revoked = await admin_client.post(f"{base}/{row.id}/revoke", data={"csrf_token": admin_client.csrf})
    assert revoked.status_code == 303
    assert (await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)).status_code == 401
    from app.audit.models import AuditLog

    async with db.tenant(tenant_a.slug) as s:
        actions = set(
            (
                await s.execute(
                    select(AuditLog.action).where(
                        AuditLog.entity_id == str(row.id), AuditLog.entity == "api_token"
                    )
                )
            ).scalars()
        )
    assert {"api_token.create", "api_token.revoke"} <= actions


async def test_expired_token_and_deactivated_owner_are_refused(
    admin_client, tenant_a, db, client, user_factory
):
    base = f"/t/{tenant_a.slug}/admin/tokens"
    owner = await user_factory(tenant_a, "operator")
    resp = await _create(admin_client, base, kind="personal", user_id=str(owner.id), name="Laptop Budi")
    assert resp.status_code == 201, resp.text
    plain = TOKEN_RE.search(resp.text).group(0)
    auth = {"authorization": f"Bearer {plain}"}
    me = await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)
    # A personal token acts with its owner's current role.
    assert me.status_code == 200 and me.json()["role"] == "operator" and me.json()["token_kind"] == "personal"
    from app.auth.models import User

    async with db.tenant(tenant_a.slug) as s:
        await s.execute(update(User).where(User.id == owner.id).values(is_active=False))
        await s.commit()
    assert (await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)).status_code == 401

    resp = await _create(admin_client, base, name="Sementara", expires_days="1")
    plain = TOKEN_RE.search(resp.text).group(0)
    auth = {"authorization": f"Bearer {plain}"}
    assert (await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)).status_code == 200
    async with db.tenant(tenant_a.slug) as s:
        await s.execute(
            update(ApiToken)
            .where(ApiToken.lookup == plain[5:17])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await s.commit()
    assert (await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)).status_code == 401


async def test_token_form_errors_beside_fields_and_nothing_created(admin_client, tenant_a, db):
    base = f"/t/{tenant_a.slug}/admin/tokens"
    async with db.tenant(tenant_a.slug) as s:
        before = len((await s.execute(select(ApiToken.id))).all())
    resp = await _create(admin_client, base, name="", scopes=["root:all"], kind="personal", expires_days="-3")
    assert resp.status_code == 422
    for f in ("name", "scopes", "user_id", "expires_days"):
        assert f'id="e-{f}"' in resp.text, f
    async with db.tenant(tenant_a.slug) as s:
        assert len((await s.execute(select(ApiToken.id))).all()) == before


async def test_operator_cannot_manage_tokens(operator_client, tenant_a):
    base = f"/t/{tenant_a.slug}/admin/tokens"
    assert (await operator_client.get(base)).status_code == 403
    resp = await operator_client.post(
        base,
        data={"csrf_token": operator_client.csrf, "name": "x", "kind": "service", "scopes": ["calls:read"]},
    )
    assert resp.status_code == 403


async def test_platform_token_for_kominfo_tools(platform_admin_client, client, db, tenant_a):
    resp = await _create(
        platform_admin_client, "/platform/tokens", name="Dasbor BI", scopes=["national:read"]
    )
    assert resp.status_code == 201, resp.text
    plain = TOKEN_RE.search(resp.text).group(0)
    auth = {"authorization": f"Bearer {plain}"}
    me = await client.get("/api/v1/platform/whoami", headers=auth)
    assert me.status_code == 200 and me.json()["scopes"] == ["national:read"] and me.json()["tenant"] is None
    # A platform token is not a tenant token.
    assert (await client.get(f"/api/v1/t/{tenant_a.slug}/whoami", headers=auth)).status_code == 401
    # Tenant scopes cannot be granted to platform tokens.
    bad = await _create(platform_admin_client, "/platform/tokens", scopes=["calls:write"])
    assert bad.status_code == 422
    async with db.public() as s:
        row = (
            await s.execute(select(PlatformApiToken).where(PlatformApiToken.lookup == plain[5:17]))
        ).scalar_one()
    rv = await platform_admin_client.post(
        f"/platform/tokens/{row.id}/revoke", data={"csrf_token": platform_admin_client.csrf}
    )
    assert rv.status_code == 303
    assert (await client.get("/api/v1/platform/whoami", headers=auth)).status_code == 401
