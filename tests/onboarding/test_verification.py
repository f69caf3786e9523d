"""Kominfo's round trip: send back → the regency sees the comment and resubmits → verify → activate (rank)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.audit.models import AuditLog, PlatformAuditLog
from app.onboarding.models import SignupApplication
from app.tenancy.models import Tenant
from tests.conftest import login
from tests.onboarding.conftest import anon_client, complete_signup, pdf_bytes

HTML = {"accept": "text/html"}


async def _tenant(db, code):
    async with db.public() as s:
        return (await s.execute(select(Tenant).where(Tenant.region_code == code))).scalar_one()


async def test_round_trip_send_back_resubmit_verify_activate(app, db, kominfo_client, free_region):
    k = kominfo_client
    async with anon_client(app) as c:
        entered = await complete_signup(c, free_region)
    t = await _tenant(db, free_region)
    queue = await k.get("/kominfo/verifications", headers=HTML)
    assert queue.status_code == 200 and t.name in queue.text
    detail = await k.get(f"/kominfo/tenants/{t.id}", headers=HTML)
    assert "Rina Kominfo" in detail.text and "Perbup No. 12 Tahun 2024" in detail.text
    doc = await k.get(f"/kominfo/tenants/{t.id}/document")
    assert doc.status_code == 200 and doc.headers["content-type"] == "application/pdf"
    assert (
        doc.content.startswith(b"%PDF-") and f"dasar-hukum-{t.slug}.pdf" in doc.headers["content-disposition"]
    )

    # Activation before verification is refused; a send-back needs a comment.
    resp = await k.post(f"/kominfo/tenants/{t.id}/activate", data={}, headers=HTML)
    assert resp.status_code == 409 and (await _tenant(db, free_region)).status == "pending"
    resp = await k.post(f"/kominfo/tenants/{t.id}/send-back", data={"comment": ""}, headers=HTML)
    assert resp.status_code == 422 and 'id="e-comment"' in resp.text
    comment = "Dokumen Perbup tidak ditandatangani; unggah versi bertanda tangan."
    resp = await k.post(f"/kominfo/tenants/{t.id}/send-back", data={"comment": comment})
    assert resp.status_code == 303
    # While sent back, it cannot be verified.
    assert (await k.post(f"/kominfo/tenants/{t.id}/verify", headers=HTML)).status_code == 409

    # The regency admin sees the comment and resubmits with a new document.
    async with anon_client(app) as a:
        assert (await login(a, t.slug, entered["admin_email"], entered["admin_password"])).status_code == 303
        home = await a.get(f"/t/{t.slug}/admin/", headers=HTML)
        assert comment in home.text
        import re

        csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
        form = {
            "contact_name": "Rina Kominfo",
            "contact_email": "rina@kominfo.go.id",
            "contact_phone": "081234567890",
            "legal_number": "Perbup No. 12 Tahun 2024 (ttd)",
            "legal_date": "2024-03-01",
            "csrf_token": csrf,
        }
        bad = await a.post(
            f"/t/{t.slug}/admin/application",
            data=form | {"contact_email": "bukan-email"},
            files={"document": ("x.pdf", b"GIF89a....", "application/pdf")},
            headers=HTML,
        )
        assert bad.status_code == 422 and 'id="e-contact_email"' in bad.text and 'id="e-document"' in bad.text
        resp = await a.post(
            f"/t/{t.slug}/admin/application",
            data=form,
            files={"document": ("signed.pdf", pdf_bytes(4000), "application/pdf")},
        )
        assert resp.status_code == 303
        # A second resubmit is refused: it's back in the queue already.
        again = await a.post(f"/t/{t.slug}/admin/application", data=form, headers=HTML)
        assert again.status_code == 409
    async with db.public() as s:
        app_row = (
            await s.execute(select(SignupApplication).where(SignupApplication.tenant_id == t.id))
        ).scalar_one()
    assert (
        app_row.status == "submitted"
        and app_row.legal_number.endswith("(ttd)")
        and app_row.document_size == 4000
    )
    assert t.name in (await k.get("/kominfo/verifications?tab=review", headers=HTML)).text

    assert (await k.post(f"/kominfo/tenants/{t.id}/verify")).status_code == 303
    assert (await _tenant(db, free_region)).status == "verified"
    # Future launch dates are refused.
    resp = await k.post(f"/kominfo/tenants/{t.id}/activate", data={"launch_date": "2999-01-01"}, headers=HTML)
    assert resp.status_code == 422 and 'id="e-launch_date"' in resp.text
    assert (await k.post(f"/kominfo/tenants/{t.id}/activate", data={"launch_date": ""})).status_code == 303
    t2 = await _tenant(db, free_region)
    assert t2.status == "active" and t2.activated_at is not None
    async with db.public() as s:
        expected_rank = (
            await s.execute(
                select(func.count())
                .select_from(Tenant)
                .where(Tenant.status == "active", Tenant.activated_at <= t2.activated_at)
            )
        ).scalar()
        actions = (
            (
                await s.execute(
                    select(PlatformAuditLog.action)
                    .where(PlatformAuditLog.tenant_slug == t.slug)
                    .order_by(PlatformAuditLog.id)
                )
            )
            .scalars()
            .all()
        )
    page = await k.get(f"/kominfo/tenants/{t.id}", headers=HTML)
    assert f"Kabupaten/kota ke-{expected_rank}" in page.text
    assert actions == [
        "tenant.signup",
        "tenant.send_back",
        "tenant.resubmit",
        "tenant.verify",
        "tenant.activate",
    ]
    async with db.tenant(t.slug) as s:
        mirrored = (
            (await s.execute(select(AuditLog.action).where(AuditLog.action.like("tenant.%")))).scalars().all()
        )
    assert {"tenant.send_back", "tenant.verify", "tenant.activate"} <= set(mirrored)

    # Suspension takes effect at once (registry cache dropped) and can be undone.
    assert (
        await k.post(f"/kominfo/tenants/{t.id}/suspend", data={"reason": "Uji penangguhan"})
    ).status_code == 303
    async with anon_client(app) as a:
        assert (await a.get(f"/t/{t.slug}/login", headers=HTML)).status_code == 403
    assert (await k.post(f"/kominfo/tenants/{t.id}/reinstate")).status_code == 303
    assert (await _tenant(db, free_region)).status == "active"


async def test_launch_rank_follows_activation_dates(db, tenant_factory):
    from app.core.principal import Principal
    from app.onboarding import service

    early = await tenant_factory(status="verified", prefix="rk")
    actor = Principal(kind="platform", user_id=None, role="kominfo_admin", name="test", email="test")
    t = await service.activate(db, early.id, datetime(2001, 1, 2).date(), actor)
    async with db.public() as s:
        t = await s.get(Tenant, early.id)
        before = (
            await s.execute(
                select(func.count())
                .select_from(Tenant)
                .where(Tenant.status == "active", Tenant.activated_at < t.activated_at)
            )
        ).scalar()
        assert await service.launch_rank(s, t) == before + 1
        assert t.activated_at.astimezone(UTC).date().isoformat() in ("2001-01-01", "2001-01-02")


async def test_only_kominfo_reaches_kominfo_pages(app, admin_client, kominfo_client, tenant_factory):
    t = await tenant_factory(status="pending", prefix="kq")
    for path in ("/kominfo/verifications", f"/kominfo/tenants/{t.id}", f"/kominfo/tenants/{t.id}/document"):
        resp = await admin_client.get(path, headers={"accept": "application/json"})
        assert resp.status_code == 401, path
        async with anon_client(app) as anon:
            assert (await anon.get(path, headers=HTML)).status_code == 303
    resp = await admin_client.post(f"/kominfo/tenants/{t.id}/verify", headers={"accept": "application/json"})
    assert resp.status_code == 401
    # Kominfo itself is not a regency admin.
    resp = await kominfo_client.get(
        f"/t/{admin_client.tenant.slug}/admin/", headers={"accept": "application/json"}
    )
    assert resp.status_code == 401
