"""An operator and a Damkar officer in two real browsers: the console updates live, no reload."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


async def _login(context, live_server, slug, email):
    page = await context.new_page()
    await page.goto(f"{live_server}/t/{slug}/login")
    await page.fill("#f-email", email)
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page


async def test_operator_dispatches_and_sees_damkar_acknowledge_live(
    browser, live_server, tenant_factory, user_factory
):
    tenant = await tenant_factory(prefix="br")
    operator = await user_factory(tenant, "operator")
    officer = await user_factory(tenant, "opd_staff", "damkar")
    op_ctx = await browser.new_context(viewport={"width": 1440, "height": 1000})
    dk_ctx = await browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = await _login(op_ctx, live_server, tenant.slug, operator.email)
        assert page.url.endswith(f"/t/{tenant.slug}/")
        await page.wait_for_selector("#incidents >> text=Tidak ada insiden terbuka")
        await page.evaluate("window.__sameDocument = true")

        # Repeat-caller lookup while typing, then the Alt+E shortcut logs an emergency.
        await page.fill("#f-caller_number", "0812 3333 4444")
        await page.wait_for_selector("#caller-history >> text=Belum pernah menelepon")
        await page.fill("#f-notes", "Asap tebal dari ruko, dua orang terjebak")
        await page.keyboard.press("Alt+e")
        await page.wait_for_selector("#incident-form")
        await page.select_option("#f-category_id", label="Kebakaran")
        await page.fill("#f-address", "Jl. Lintas Sumatera No. 12, Pasar Solok")
        await page.fill("#f-people_involved", "2")
        box = await page.locator("#map").bounding_box()
        await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert await page.input_value("#f-lat") != ""
        assert await page.is_checked('#incident-form input[name="priority"][value="1"]')
        await page.click("#incident-form button[type=submit]")

        await page.wait_for_selector("#dispatch-form")
        damkar = page.locator("#dispatch-form label.opd", has_text="Pemadam Kebakaran").locator("input")
        bpbd = page.locator("#dispatch-form label.opd", has_text="BPBD").locator("input")
        assert await damkar.is_checked() and await bpbd.is_checked()
        await bpbd.uncheck()
        await page.click("#dispatch-form button[type=submit]")
        await page.wait_for_selector("#call-form")
        card = page.locator("#incidents .incident").first
        await card.locator('.dispatch[data-status="sent"]').wait_for()
        await page.screenshot(path="/tmp/console_sent.png", full_page=True)

        # Damkar, in its own browser, acknowledges with one click.
        officer_page = await _login(dk_ctx, live_server, tenant.slug, officer.email)
        assert officer_page.url.endswith("/opd")
        await officer_page.wait_for_selector("text=Jl. Lintas Sumatera No. 12")
        await officer_page.screenshot(path="/tmp/opd_queue.png", full_page=True)
        await officer_page.click("button.next[data-action=acknowledged]")
        await officer_page.wait_for_selector('.job[data-status="acknowledged"]')

        # The operator's console shows it without a reload (SSE → htmx re-fetch).
        await card.locator('.dispatch[data-status="acknowledged"]', has_text="Diterima").wait_for(
            timeout=10_000
        )
        assert await page.evaluate("window.__sameDocument === true")
        await page.screenshot(path="/tmp/console_acknowledged.png", full_page=True)
    finally:
        await op_ctx.close()
        await dk_ctx.close()
