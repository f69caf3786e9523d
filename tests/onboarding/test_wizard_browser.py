"""A Kominfo officer signs their regency up in a real Chromium: htmx steps, a bad then a good PDF."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.onboarding.models import SignupApplication
from app.tenancy.models import Tenant
from app.tenancy.regions import regency
from tests.onboarding.conftest import pdf_bytes

pytestmark = pytest.mark.browser


async def test_wizard_end_to_end_in_the_browser(browser, live_server, db, tmp_path, free_region):
    reg = regency(free_region)
    good, bad = tmp_path / "perbup.pdf", tmp_path / "foto.pdf"
    good.write_bytes(pdf_bytes(30_000))
    bad.write_bytes(b"\xff\xd8\xff\xe0 JPEG pretending to be a PDF" + b"0" * 1000)
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    await page.goto(f"{live_server}/signup")
    # Step 1: province first, then the kab/kota list is loaded by htmx.
    await page.click("#next")
    await page.wait_for_selector("#e-province_code")
    await page.select_option("#f-province_code", reg.province_code)
    await page.wait_for_selector(f'#f-region_code option[value="{free_region}"]', state="attached")
    await page.select_option("#f-region_code", free_region)
    await page.screenshot(path="/tmp/wizard-step1.png", full_page=True)
    await page.click("#next")
    # Step 2: an error shown beside its field, then fixed.
    await page.wait_for_selector("#f-contact_name")
    await page.fill("#f-contact_name", "Rina Kominfo")
    await page.fill("#f-contact_email", "rina@")
    await page.fill("#f-contact_phone", "0812 3456 7890")
    await page.click("#next")
    await page.wait_for_selector("#e-contact_email")
    await page.fill("#f-contact_email", "rina@kominfo.go.id")
    await page.click("#next")
    # Step 3: the upload, refused by its magic bytes, then accepted.
    await page.wait_for_selector("#f-legal_number")
    await page.fill("#f-legal_number", "Perwako No. 7 Tahun 2024")
    await page.fill("#f-legal_date", "2024-05-02")
    await page.set_input_files("#f-document", str(bad))
    await page.click("#next")
    await page.wait_for_selector("#e-document")
    assert "bukan PDF" in await page.inner_text("#e-document")
    await page.screenshot(path="/tmp/wizard-step3-error.png", full_page=True)
    await page.set_input_files("#f-document", str(good))
    await page.click("#next")
    # Step 4: OPDs (defaults pre-checked) plus a custom one.
    await page.wait_for_selector("#f-custom_opds")
    await page.uncheck('input[name=opd_codes][value="pln"]')
    await page.fill("#f-custom_opds", "RSUD Daerah")
    await page.click("#next")
    # Step 5: the admin account.
    await page.wait_for_selector("#f-admin_name")
    await page.fill("#f-admin_name", "Admin Pertama")
    await page.fill("#f-admin_email", "admin@kominfo.go.id")
    await page.fill("#f-admin_password", "Siaga-112-aman")
    await page.fill("#f-admin_password2", "Siaga-112-aman")
    await page.click("#next")
    # Step 6: review, progress survives a reload (saved server-side), then submit.
    await page.wait_for_selector("text=Periksa dan kirim")
    await page.reload()
    await page.wait_for_selector("text=Periksa dan kirim")
    body = await page.inner_text("#wizard")
    assert reg.name in body and "RSUD Daerah" in body and "PDF terunggah" in body
    await page.screenshot(path="/tmp/wizard-step6.png", full_page=True)
    await page.click("#next")
    await page.wait_for_selector("text=Pendaftaran terkirim")
    await page.screenshot(path="/tmp/wizard-done.png", full_page=True)
    async with db.public() as s:
        t = (await s.execute(select(Tenant).where(Tenant.region_code == free_region))).scalar_one()
        a = (
            await s.execute(select(SignupApplication).where(SignupApplication.tenant_id == t.id))
        ).scalar_one()
    assert t.status == "pending" and a.status == "submitted" and a.document_size == 30_000
    assert a.opds == {"codes": [c for c in a.opds["codes"] if c != "pln"], "custom": ["RSUD Daerah"]}
    assert "pln" not in a.opds["codes"]
    # The admin logs in to the pending regency.
    await page.click("text=Masuk sebagai admin")
    await page.fill("#f-email", "admin@kominfo.go.id")
    await page.fill("#f-password", "Siaga-112-aman")
    await page.click("button[type=submit]")
    await page.goto(f"{live_server}/t/{t.slug}/admin/")
    assert "sedang diverifikasi" in await page.content()
    await page.screenshot(path="/tmp/admin-home.png", full_page=True)
    await page.close()
