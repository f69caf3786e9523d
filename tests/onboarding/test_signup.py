"""The signup wizard over HTTP: saved steps, field errors, uploads, duplicates, submission."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.admin.models import Kecamatan
from app.audit.models import AuditLog, PlatformAuditLog
from app.auth.models import User
from app.dispatch.models import Opd
from app.onboarding.models import SignupApplication
from app.onboarding.validation import document_file
from app.tenancy.models import Tenant
from tests.onboarding.conftest import anon_client, complete_signup, pdf_bytes, wizard_csrf


async def _counts(db):
    async with db.public() as s:
        return (
            (await s.execute(select(func.count()).select_from(Tenant))).scalar(),
            (
                await s.execute(
                    select(func.count())
                    .select_from(SignupApplication)
                    .where(SignupApplication.status != "draft")
                )
            ).scalar(),
        )


async def test_full_signup_creates_pending_tenant_with_admin_and_opds(app, db, settings, free_region):
    async with anon_client(app) as c:
        entered = await complete_signup(c, free_region)
        done = await c.get("/signup/done", headers={"accept": "text/html"})
        assert done.status_code == 200 and "Pendaftaran terkirim" in done.text
    reg = entered["regency"]
    async with db.public() as s:
        tenant = (await s.execute(select(Tenant).where(Tenant.region_code == free_region))).scalar_one()
        a = (
            await s.execute(select(SignupApplication).where(SignupApplication.tenant_id == tenant.id))
        ).scalar_one()
        audit = (
            (
                await s.execute(
                    select(PlatformAuditLog.action).where(PlatformAuditLog.tenant_slug == tenant.slug)
                )
            )
            .scalars()
            .all()
        )
    assert (tenant.status, tenant.slug, tenant.name) == ("pending", reg.slug, reg.short_name)
    assert a.status == "submitted" and a.admin_password_hash is None
    assert a.contact_phone == "+6281234567890" and a.contact_nip == "198501012010012001"
    stored = document_file(settings.upload_dir, a.document_path)
    assert stored is not None and stored.read_bytes().startswith(b"%PDF-")
    assert "perbup" not in a.document_path  # the client's filename is never used on disk
    assert "tenant.signup" in audit
    async with db.tenant(tenant.slug) as s:
        admin = (await s.execute(select(User).where(User.email == entered["admin_email"]))).scalar_one()
        active = set((await s.execute(select(Opd.code).where(Opd.is_active))).scalars())
        kec = (await s.execute(select(func.count()).select_from(Kecamatan))).scalar()
        tenant_audit = (await s.execute(select(AuditLog.action))).scalars().all()
    assert admin.role == "admin" and admin.password_hash
    assert active == {"kominfo", "bpbd", "damkar", "ambulans", "x_rsud_kota"}
    assert kec > 0  # kecamatan prefilled from the official list
    assert "tenant.signup" in tenant_audit
    # The admin can log in to the pending tenant and sees the review status.
    async with anon_client(app) as c:
        from tests.conftest import login

        resp = await login(c, reg.slug, entered["admin_email"], entered["admin_password"])
        assert resp.status_code == 303
        home = await c.get(f"/t/{reg.slug}/admin/", headers={"accept": "text/html"})
        assert home.status_code == 200 and "sedang diverifikasi" in home.text


async def test_progress_is_saved_and_resumable_from_the_link(app, db, free_region):
    async with anon_client(app) as c:
        await complete_signup(c, free_region, submit=False)
        page = await c.get("/signup", headers={"accept": "text/html"})
        link = re.search(r"/signup/resume/[\w-]+", page.text).group(0)
        assert "6. Periksa dan kirim" in page.text
    async with anon_client(app) as other:  # another device, no cookie
        assert "1. Kabupaten/kota" in (await other.get("/signup", headers={"accept": "text/html"})).text
        resp = await other.get(link)
        assert resp.status_code == 303
        page = await other.get("/signup", headers={"accept": "text/html"})
        assert "6. Periksa dan kirim" in page.text and "Rina Kominfo" in page.text
        # Steps already reached can be revisited with their saved values.
        step2 = await other.get("/signup/step/2", headers={"accept": "text/html", "hx-request": "true"})
        assert 'value="rina@kominfo.go.id"' in step2.text


async def test_duplicate_signup_is_refused(app, db, free_region):
    async with anon_client(app) as c:
        await complete_signup(c, free_region)
    before = await _counts(db)
    async with anon_client(app) as c:
        token = await wizard_csrf(c)
        from app.tenancy.regions import regency

        reg = regency(free_region)
        resp = await c.post(
            "/signup/step/1",
            data={"province_code": reg.province_code, "region_code": free_region},
            headers={"x-csrf-token": token, "accept": "text/html"},
        )
        assert resp.status_code == 422
        assert 'id="e-region_code"' in resp.text and "sudah terdaftar" in resp.text
        # The option is shown as taken in the regency list too.
        opts = await c.get(f"/signup/regencies?province_code={reg.province_code}")
        assert re.search(rf'value="{re.escape(free_region)}"[^>]*disabled', opts.text)
    assert await _counts(db) == before


async def test_race_two_drafts_for_one_regency_only_first_submit_wins(app, db, free_region):
    async with anon_client(app) as c1, anon_client(app) as c2:
        await complete_signup(c1, free_region, submit=False)
        second = await complete_signup(c2, free_region, submit=False)
        first = await c1.post("/signup/submit", headers={"x-csrf-token": await wizard_csrf(c1)})
        assert first.status_code == 303
        resp = await c2.post(
            "/signup/submit", headers={"x-csrf-token": second["csrf"], "accept": "text/html"}
        )
        assert resp.status_code == 409 and "sudah terdaftar" in resp.text
    async with db.public() as s:
        n = (
            await s.execute(select(func.count()).select_from(Tenant).where(Tenant.region_code == free_region))
        ).scalar()
    assert n == 1


async def _at_step3(c, code):
    from app.tenancy.regions import regency

    reg = regency(code)
    token = await wizard_csrf(c)
    h = {"x-csrf-token": token, "accept": "text/html"}
    assert (
        await c.post(
            "/signup/step/1", data={"province_code": reg.province_code, "region_code": code}, headers=h
        )
    ).status_code == 303
    assert (
        await c.post(
            "/signup/step/2",
            data={"contact_name": "A B", "contact_email": "a@b.go.id", "contact_phone": "081234567"},
            headers=h,
        )
    ).status_code == 303
    return h


async def test_bad_uploads_are_refused_beside_the_field(app, db, settings, free_region):
    legal = {"legal_number": "SK 1/2024", "legal_date": "2024-01-02"}
    files_before = (
        set((settings.upload_dir / "legal").glob("*")) if (settings.upload_dir / "legal").exists() else set()
    )
    async with anon_client(app) as c:
        h = await _at_step3(c, free_region)
        # A PNG renamed to .pdf with a PDF content type: refused by its magic bytes.
        png = b"\x89PNG\r\n\x1a\n" + b"0" * 500
        resp = await c.post(
            "/signup/step/3",
            data=legal,
            files={"document": ("perbup.pdf", png, "application/pdf")},
            headers=h,
        )
        assert resp.status_code == 422 and 'id="e-document"' in resp.text and "bukan PDF" in resp.text
        # Oversized (5 MB + 1 byte).
        big = pdf_bytes(5 * 1024 * 1024 + 1)
        resp = await c.post(
            "/signup/step/3",
            data=legal,
            files={"document": ("perbup.pdf", big, "application/pdf")},
            headers=h,
        )
        assert resp.status_code == 413 and 'id="e-document"' in resp.text and "maksimal 5 MB" in resp.text
        # Way oversized: refused from Content-Length, body never parsed.
        huge = pdf_bytes(8 * 1024 * 1024)
        resp = await c.post(
            "/signup/step/3", data=legal, files={"document": ("x.pdf", huge, "application/pdf")}, headers=h
        )
        assert resp.status_code == 413 and 'id="e-document"' in resp.text
        # Missing document and bad date: both explained.
        resp = await c.post(
            "/signup/step/3", data={"legal_number": "", "legal_date": "2099-01-01"}, headers=h
        )
        assert resp.status_code == 422
        for f in ("e-legal_number", "e-legal_date", "e-document"):
            assert f'id="{f}"' in resp.text
        # Exactly 5 MB is accepted.
        ok = await c.post(
            "/signup/step/3",
            data=legal,
            headers=h,
            files={"document": ("../../etc/passwd.pdf", pdf_bytes(5 * 1024 * 1024), "application/pdf")},
        )
        assert ok.status_code == 303
    files_after = set((settings.upload_dir / "legal").glob("*"))
    new = files_after - files_before
    assert len(new) == 1 and re.fullmatch(r"[0-9a-f]{32}\.pdf", next(iter(new)).name)


async def test_each_step_explains_its_errors_in_place(app, db, free_region):
    async with anon_client(app) as c:
        token = await wizard_csrf(c)
        h = {"x-csrf-token": token, "accept": "text/html", "hx-request": "true"}
        resp = await c.post("/signup/step/1", data={"province_code": "", "region_code": "99.99"}, headers=h)
        assert (
            resp.status_code == 422
            and 'id="e-province_code"' in resp.text
            and 'id="e-region_code"' in resp.text
        )
        assert "<html" not in resp.text  # htmx gets the step fragment only
        # Step 2 before step 1 is done: nothing to continue.
        assert (await c.post("/signup/step/2", data={}, headers=h)).status_code == 404
        h2 = await _at_step3(c, free_region)
        resp = await c.post(
            "/signup/step/2",
            data={"contact_name": "", "contact_nip": "123", "contact_email": "x@", "contact_phone": "12"},
            headers=h,
        )
        assert resp.status_code == 422
        for f in ("contact_name", "contact_nip", "contact_email", "contact_phone"):
            assert f'id="e-{f}"' in resp.text, f
        resp = await c.post("/signup/step/4", data={"opd_codes": ["bpbd"]}, headers=h)
        assert resp.status_code == 422 and "Dinas Kominfo" in resp.text
        resp = await c.post(
            "/signup/step/5",
            data={
                "admin_name": "A",
                "admin_email": "budi@x.go.id",
                "admin_password": "pendek",
                "admin_password2": "pendek",
            },
            headers=h,
        )
        assert resp.status_code == 422 and 'id="e-admin_password"' in resp.text and "minimal 10" in resp.text
        assert "pendek" not in resp.text  # a password is never echoed back
        resp = await c.post("/signup/submit", headers=h2)
        assert resp.status_code == 422 and "Data belum lengkap" in resp.text
    async with db.public() as s:
        assert (
            await s.execute(select(func.count()).select_from(Tenant).where(Tenant.region_code == free_region))
        ).scalar() == 0


async def test_wizard_needs_csrf(app):
    async with anon_client(app) as c:
        await c.get("/signup")
        resp = await c.post("/signup/step/1", data={"province_code": "13", "region_code": "13.02"})
        assert resp.status_code == 403
