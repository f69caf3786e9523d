"""The supervisor's review queue in Chromium, at desktop and phone size: read the request,
decide, see it among the decisions; no sideways scrolling, no serious axe violation."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from app.calls.service import Ctx
from app.core.principal import Principal
from app.reputation import reviews
from tests.browser.test_a11y_browser import serious_violations, tenant_login
from tests.browser.test_console_ui_browser import DESKTOP, PHONE, no_sideways_scroll
from tests.handover.test_warning_sms import _prank_call

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_supervisor_decides_a_review(browser, live_server, db, tenant_factory, user_factory, viewport):
    tenant = await tenant_factory(prefix="rvb")
    number = "+62813" + str(uuid.uuid4().int)[:8]
    call_id = await _prank_call(db, tenant.slug, number)
    operator = await user_factory(tenant, "operator")
    async with db.tenant(tenant.slug) as s:
        actor = Principal(kind="tenant", user_id=operator.id, role="operator", name="Operator Uji")
        review, _ = await reviews.request_review(Ctx(s, tenant, actor), call_id, "mengaku kebakaran lagi")
    supervisor = await user_factory(tenant, "supervisor")
    ctx = await browser.new_context(viewport=viewport)
    try:
        page = await tenant_login(ctx, live_server, tenant.slug, supervisor.email)
        await page.click("#nav-reviews")
        card = page.locator(f"#review-{review.id}")
        await expect(card).to_contain_text(number)
        await expect(card).to_contain_text("mengaku kebakaran lagi")
        await no_sideways_scroll(page)
        assert await serious_violations(page) == []
        # a watch-list decision without its reason is refused beside the field, then completed
        await card.get_by_label("Masukkan ke daftar pantauan").check()
        await card.get_by_role("button", name="Simpan keputusan").click()
        await expect(page.locator(f"#e-decision_note-{review.id}")).to_contain_text("Tulis alasan")
        card = page.locator(f"#review-{review.id}")
        await card.get_by_label("Catatan").fill("iseng berulang, pantau")
        await card.get_by_role("button", name="Simpan keputusan").click()
        await expect(page.locator(".review-done")).to_contain_text("Masukkan ke daftar pantauan")
        await expect(page.locator(f"#review-{review.id}")).to_have_count(0)
        await no_sideways_scroll(page)
    finally:
        await ctx.close()
