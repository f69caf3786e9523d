"""Tenant admin pages: validation in place, audit with before/after, invites single-use and expiring."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.admin.models import AccountLink, Kecamatan, Kelurahan
from app.audit.models import AuditLog
from app.auth.models import User
from app.dispatch.models import Category, CategoryOpd, Opd
from tests.conftest import login
from tests.onboarding.conftest import anon_client

HTML = {"accept": "text/html"}


async def test_only_admins_reach_admin_pages(app, tenant_factory, user_factory):
    t = await tenant_factory(prefix="acl")
    for role in ("operator", "supervisor", "opd_staff"):
        u = await user_factory(t, role)
        async with anon_client(app) as c:
            assert (await login(c, t.slug, u.email)).status_code == 303
            for path in ("/admin/", "/admin/opds", "/admin/users", "/admin/categories", "/admin/areas"):
                assert (await c.get(f"/t/{t.slug}{path}", headers=HTML)).status_code == 403, (role, path)
    async with anon_client(app) as c:
        resp = await c.get(f"/t/{t.slug}/admin/opds", headers=HTML)
        assert resp.status_code == 303 and "/login" in resp.headers["location"]


async def test_opd_validation_and_audit(admin_client, db):
    c, slug = admin_client, admin_client.tenant.slug
    bad = {
        "name": "",
        "type": "nope",
        "emergency_number": "12a",
        "escalation_contact": "bukan kontak",
        "webhook_url": "http://bpbd.example.go.id/hook",
        "is_active": "on",
    }
    resp = await c.post(f"/t/{slug}/admin/opds", data=bad, headers=HTML)
    assert resp.status_code == 422
    for f in ("name", "type", "emergency_number", "escalation_contact", "webhook_url"):
        assert f'id="e-{f}"' in resp.text, f
    assert "https://" in resp.text
    for url in (
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://user:pw@x.go.id/",
        "https://10.0.0.5/hook",
    ):
        r = await c.post(
            f"/t/{slug}/admin/opds",
            data=bad
            | {
                "name": "X",
                "type": "other",
                "emergency_number": "",
                "escalation_contact": "",
                "webhook_url": url,
            },
            headers=HTML,
        )
        assert r.status_code == 422 and 'id="e-webhook_url"' in r.text, url
    good = {
        "name": "RSUD Kota Uji",
        "type": "rsud",
        "emergency_number": "0755 20112",
        "escalation_contact": "0812-1111-2222\nigd@rsud.uji.go.id",
        "webhook_url": "https://rsud.uji.go.id/112",
        "is_active": "on",
    }
    resp = await c.post(f"/t/{slug}/admin/opds", data=good)
    assert resp.status_code == 303
    async with db.tenant(slug) as s:
        opd = (await s.execute(select(Opd).where(Opd.code == "rsud_kota_uji"))).scalar_one()
    assert (
        opd.escalation_contact == "+6281211112222\nigd@rsud.uji.go.id" and opd.emergency_number == "075520112"
    )
    # Duplicate code is explained, edit records before/after.
    resp = await c.post(f"/t/{slug}/admin/opds", data=good, headers=HTML)
    assert resp.status_code == 422 and "sudah dipakai" in resp.text
    resp = await c.post(f"/t/{slug}/admin/opds/{opd.id}", data=good | {"name": "RSUD Uji", "is_active": ""})
    assert resp.status_code == 303
    async with db.tenant(slug) as s:
        row = (
            await s.execute(
                select(AuditLog).where(AuditLog.action == "opd.update", AuditLog.entity_id == str(opd.id))
            )
        ).scalar_one()
    assert (
        row.before["name"] == "RSUD Kota Uji"
        and row.after["name"] == "RSUD Uji"
        and row.after["is_active"] is False
    )


async def test_category_routing_validation(admin_client, db):
    c, slug = admin_client, admin_client.tenant.slug
    async with db.tenant(slug) as s:
        fire = (await s.execute(select(Category).where(Category.code == "fire"))).scalar_one()
        damkar, pln = [
            (await s.execute(select(Opd.id).where(Opd.code == x))).scalar_one() for x in ("damkar", "pln")
        ]
    resp = await c.post(
        f"/t/{slug}/admin/categories/{fire.id}",
        headers=HTML,
        data={"name": "Kebakaran", "default_priority": "9", "sort_order": "x", "is_active": "on"},
    )
    assert resp.status_code == 422
    for f in ("default_priority", "sort_order", "opd_ids"):
        assert f'id="e-{f}"' in resp.text, f
    resp = await c.post(
        f"/t/{slug}/admin/categories/{fire.id}",
        headers=HTML,
        data={
            "name": "Kebakaran",
            "default_priority": "1",
            "sort_order": "0",
            "is_active": "on",
            "opd_ids": ["999999"],
        },
    )
    assert resp.status_code == 422 and "tidak dikenal" in resp.text
    resp = await c.post(
        f"/t/{slug}/admin/categories/{fire.id}",
        data={
            "name": "Kebakaran gedung",
            "default_priority": "1",
            "sort_order": "0",
            "is_active": "on",
            "opd_ids": [str(damkar), str(pln)],
        },
    )
    assert resp.status_code == 303
    async with db.tenant(slug) as s:
        routed = set(
            (await s.execute(select(CategoryOpd.opd_id).where(CategoryOpd.category_id == fire.id))).scalars()
        )
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "category.update"))).scalar_one()
    assert routed == {damkar, pln}
    assert set(audit.before["opd_ids"]) != routed and set(audit.after["opd_ids"]) == routed


async def _link_from(resp) -> str:
    m = re.search(r"/t/[\w]+/account/[\w-]+", resp.text)
    assert m, resp.text[:500]
    return m.group(0)


async def test_invite_link_is_single_use_and_expires(app, admin_client, db):
    c, slug = admin_client, admin_client.tenant.slug
    resp = await c.post(
        f"/t/{slug}/admin/users",
        headers=HTML,
        data={"full_name": "", "email": "x", "role": "opd_staff", "opd_id": ""},
    )
    assert resp.status_code == 422
    for f in ("full_name", "email", "opd_id"):
        assert f'id="e-{f}"' in resp.text, f
    resp = await c.post(
        f"/t/{slug}/admin/users",
        headers=HTML,
        data={"full_name": "Sari Operator", "email": "sari@uji.go.id", "role": "operator"},
    )
    assert resp.status_code == 201
    link = await _link_from(resp)
    token = link.rsplit("/", 1)[1]
    async with db.tenant(slug) as s:
        stored = (await s.execute(select(AccountLink.token_hash))).scalars().all()
    assert token not in stored and len(stored) == 1  # only the hash is kept
    # Duplicate email refused.
    again = await c.post(
        f"/t/{slug}/admin/users",
        headers=HTML,
        data={"full_name": "Sari", "email": "SARI@uji.go.id", "role": "operator"},
    )
    assert again.status_code == 422 and "sudah terdaftar" in again.text
    async with anon_client(app) as p:
        page = await p.get(link, headers=HTML)
        assert page.status_code == 200 and "sari@uji.go.id" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        weak = await p.post(
            link, data={"password": "short", "password2": "short", "csrf_token": csrf}, headers=HTML
        )
        assert weak.status_code == 422 and 'id="e-password"' in weak.text
        ok = await p.post(
            link, data={"password": "Operator-112x", "password2": "Operator-112x", "csrf_token": csrf}
        )
        assert ok.status_code == 200
        reused = await p.post(
            link,
            data={"password": "Operator-112y", "password2": "Operator-112y", "csrf_token": csrf},
            headers=HTML,
        )
        assert reused.status_code == 410 and "sudah dipakai" in reused.text
        assert (await login(p, slug, "sari@uji.go.id", "Operator-112x")).status_code == 303
    # Reset: a new link, old sessions end; an expired link is refused.
    async with db.tenant(slug) as s:
        sari = (await s.execute(select(User).where(User.email == "sari@uji.go.id"))).scalar_one()
    version = sari.session_version
    resp = await c.post(f"/t/{slug}/admin/users/{sari.id}/reset", headers=HTML)
    reset_link = await _link_from(resp)
    async with db.tenant(slug) as s:
        assert (await s.get(User, sari.id)).session_version == version + 1
        await s.execute(
            update(AccountLink)
            .where(AccountLink.used_at.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await s.commit()
    async with anon_client(app) as p:
        page = await p.get(reset_link, headers=HTML)
        assert page.status_code == 410 and "kedaluwarsa" in page.text
        assert (await p.get(f"/t/{slug}/account/not-a-token", headers=HTML)).status_code == 404


async def test_deactivate_ends_sessions_and_self_protection(app, admin_client, user_factory, db):
    c, slug, t = admin_client, admin_client.tenant.slug, admin_client.tenant
    op = await user_factory(t, "operator")
    async with anon_client(app) as o:
        assert (await login(o, slug, op.email)).status_code == 303
        assert (await o.get(f"/t/{slug}/", headers=HTML)).status_code == 200
        assert (await c.post(f"/t/{slug}/admin/users/{op.id}/deactivate")).status_code == 303
        resp = await o.get(f"/t/{slug}/", headers=HTML)
        assert resp.status_code == 303 and "/login" in resp.headers["location"]
    resp = await c.post(f"/t/{slug}/admin/users/{c.user.id}/deactivate", headers=HTML)
    assert resp.status_code == 409 and "sendiri" in resp.text
    resp = await c.post(f"/t/{slug}/admin/users/{c.user.id}/role", data={"role": "operator"}, headers=HTML)
    assert resp.status_code == 422
    async with db.tenant(slug) as s:
        me = await s.get(User, c.user.id)
        assert me.is_active and me.role == "admin"
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "user.deactivate"))).scalar_one()
    assert audit.before["is_active"] is True and audit.after["is_active"] is False


async def test_areas_add_kelurahan_with_errors_in_place(admin_client, db):
    c, slug = admin_client, admin_client.tenant.slug
    resp = await c.post(
        f"/t/{slug}/admin/areas/kelurahan", data={"kecamatan_id": "", "kelurahan_name": ""}, headers=HTML
    )
    assert (
        resp.status_code == 422
        and 'id="e-kecamatan_id"' in resp.text
        and 'id="e-kelurahan_name"' in resp.text
    )
    assert (
        await c.post(f"/t/{slug}/admin/areas/kecamatan", data={"kecamatan_name": "Lubuk Sikarah"})
    ).status_code == 303
    dup = await c.post(
        f"/t/{slug}/admin/areas/kecamatan", data={"kecamatan_name": "lubuk sikarah"}, headers=HTML
    )
    assert dup.status_code == 422 and 'id="e-kecamatan_name"' in dup.text
    async with db.tenant(slug) as s:
        kec = (await s.execute(select(Kecamatan).where(Kecamatan.name == "Lubuk Sikarah"))).scalar_one()
    assert (
        await c.post(
            f"/t/{slug}/admin/areas/kelurahan",
            data={"kecamatan_id": str(kec.id), "kelurahan_name": "Tanah Garam"},
        )
    ).status_code == 303
    dup = await c.post(
        f"/t/{slug}/admin/areas/kelurahan",
        data={"kecamatan_id": str(kec.id), "kelurahan_name": "TANAH GARAM"},
        headers=HTML,
    )
    assert dup.status_code == 422
    page = await c.get(f"/t/{slug}/admin/areas", headers=HTML)
    assert "Tanah Garam" in page.text
    async with db.tenant(slug) as s:
        assert len((await s.execute(select(Kelurahan))).all()) == 1


async def test_kecamatan_prefilled_from_official_list(db, tenant_factory):
    from app.admin.areas import ensure_kecamatan
    from app.tenancy.regions import districts

    t = await tenant_factory(prefix="kec")
    async with db.tenant(t.slug) as s:
        assert await ensure_kecamatan(s, "13.72") == len(districts("13.72")) == 2
        assert await ensure_kecamatan(s, "13.72") == 0
        await s.commit()
