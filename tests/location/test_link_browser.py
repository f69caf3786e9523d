"""The whole location-link path in two real Chromium browsers: the operator sends the link, the
caller's phone (geolocation overridden) shares its position, the console map shows it live."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.channels import peers
from tests.channels.conftest import channel_settings, citizen_channels, provider_url  # noqa: F401
from tests.conftest import TEST_PASSWORD
from tests.telephony.conftest import event, new_id, post_signed

pytestmark = pytest.mark.browser
PHONE_POS = {"latitude": -0.6833, "longitude": 100.7781, "accuracy": 23}


async def test_operator_sends_link_and_sees_the_phones_position_live(
    browser,
    live_server,
    real_tenant,
    user_factory,
    citizen_channels,  # noqa: F811
):
    operator = await user_factory(real_tenant, "operator")
    await citizen_channels(real_tenant.slug)
    op_ctx = await browser.new_context(viewport={"width": 1440, "height": 1000})
    phone = await browser.new_context(
        viewport={"width": 390, "height": 844},
        geolocation=PHONE_POS,
        permissions=["geolocation"],
        is_mobile=True,
    )
    desktop = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await op_ctx.new_page()
        await page.goto(f"{live_server}/t/{real_tenant.slug}/login")
        await page.fill("#f-email", operator.email)
        await page.fill("#f-password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state("networkidle")

        async with httpx.AsyncClient(base_url=live_server) as api:
            r = await post_signed(
                api,
                real_tenant.slug,
                real_tenant.secret,
                event("ringing", new_id("c"), caller="+6281377720001"),
            )
            assert r.status_code == 200, r.text
        ringing = page.locator(".tel-call.ringing", has_text="+6281377720001")
        await ringing.locator("button.tel-answer").click()
        mine = page.locator(".tel-call.mine", has_text="+6281377720001")
        await mine.wait_for()
        await mine.locator("select[name=channel]").select_option("whatsapp")
        await mine.locator(".loc-link button").click()
        await page.wait_for_selector("#toast >> text=Tautan lokasi terkirim lewat WhatsApp")
        (msg,) = peers.WA.received
        url = re.search(r"(http://\S+/lokasi/\S+)", msg["text"]["body"]).group(1)

        caller = await phone.new_page()
        await caller.goto(url)
        await caller.screenshot(path="/tmp/location_link_phone.png", full_page=True)
        await caller.click("#b")
        status = caller.locator("#s")
        try:
            await status.filter(has_text="Lokasi terkirim ke petugas 112").wait_for(timeout=15_000)
        except Exception:
            pytest.fail(f"caller page says: {await status.text_content()!r}")

        # Live on the console (SSE → panel refresh → map): accuracy circle, source, time.
        await mine.locator(".tel-loc", has_text="tautan lokasi").wait_for(timeout=10_000)
        # The map is drawn on htmx:afterSettle, a moment after the panel's text is swapped in.
        await page.wait_for_function(
            "window.siagaTelephony.fixes.some(f => f.source === 'link')", timeout=10_000
        )
        fixes = await page.evaluate("window.siagaTelephony.fixes")
        link_fix = next(f for f in fixes if f["source"] == "link" and f["caller"] == "+6281377720001")
        assert link_fix["best"] and link_fix["radius_m"] == 23
        assert abs(link_fix["lat"] - PHONE_POS["latitude"]) < 1e-6
        circles = await page.evaluate(
            "Object.values(window.siagaMap._layers).filter(l => l.getRadius && l.feature)"
            ".map(l => l.getRadius())"
        )
        assert 23 in circles
        await page.screenshot(path="/tmp/location_link_console.png", full_page=True)

        # Used once: opening it again (here on a desktop browser) says so.
        again = await desktop.new_page()
        resp = await again.goto(url)
        assert resp.status == 410
        await again.wait_for_selector("text=sudah digunakan")
        await again.screenshot(path="/tmp/location_link_used.png")
    finally:
        await op_ctx.close()
        await phone.close()
        await desktop.close()
