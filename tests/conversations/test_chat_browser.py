"""A WhatsApp conversation in Chromium: it rings on the console, the operator answers and chats,
the person's next message appears live (SSE), the reply's delivery state updates live."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TEST_PASSWORD
from tests.conversations.conftest import post_wa, wa_status, wa_text

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "viewport", [{"width": 1440, "height": 1000}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
async def test_whatsapp_conversation_live_both_ways(
    browser, live_server, chat_tenant, user_factory, monkeypatch, wa_env, viewport
):
    number = "62813000003" + str(viewport["width"])[:2]
    operator = await user_factory(chat_tenant, "operator")
    providers = wa_env
    ctx = await browser.new_context(viewport=viewport)
    try:
        page = await ctx.new_page()
        await page.goto(f"{live_server}/t/{chat_tenant.slug}/login")
        await page.fill("#f-email", operator.email)
        await page.fill("#f-password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state("networkidle")
        async with httpx.AsyncClient(base_url=live_server) as api:
            r = await post_wa(api, chat_tenant.slug, wa_text(number, "Tolong, saya tuli. Ada kebakaran."))
            assert r.status_code == 200, r.text
            ringing = page.locator(".tel-call.ringing", has_text=number)
            await ringing.wait_for(timeout=10_000)  # rings live, no reload
            await ringing.locator("button.tel-answer").click()
            await page.locator(".tel-call.mine", has_text=number).locator("a.conv-open").click()
            await page.wait_for_selector("#chat-thread >> text=Tolong, saya tuli")
            await page.click("#chat-thread .chat-actions button:has-text('Tandai tuli')")
            await page.wait_for_selector(".deaf-banner")
            await page.fill("#f-body", "Kami kirim pemadam. Di mana alamatnya?")
            await page.click(".chat-form button[type=submit]")
            out = page.locator("#chat-thread .msg.out").last
            await out.locator(".state", has_text="terkirim").wait_for()
            wamid = providers.WA.received[-1]["id"]

            # The person answers and the phone reports "read": both appear without a reload.
            await page.evaluate("window.__sameDocument = true")
            await post_wa(api, chat_tenant.slug, wa_text(number, "Jl. Pahlawan 7, dekat masjid"))
            await page.wait_for_selector("#chat-thread >> text=Jl. Pahlawan 7", timeout=10_000)
            await post_wa(api, chat_tenant.slug, wa_status(wamid, "read", number))
            await page.locator("#chat-thread .msg.out .state", has_text="dibaca").wait_for(timeout=10_000)
            assert await page.evaluate("window.__sameDocument === true")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]
        await page.screenshot(path=f"/tmp/chat_{viewport['width']}.png", full_page=True)
    finally:
        await ctx.close()
