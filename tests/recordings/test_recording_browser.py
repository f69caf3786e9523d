"""A supervisor plays a call's recording on the call's detail page (desktop and phone size)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TEST_PASSWORD
from tests.recordings.conftest import wav_bytes
from tests.telephony.conftest import event, new_id, post_signed

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
async def test_recording_plays_on_the_call_detail_page(
    browser, live_server, db, tenant_factory, user_factory, local_store, viewport
):
    from app.calls.service import Ctx
    from app.core.principal import Principal
    from app.telephony import service

    tenant = await tenant_factory(prefix="rb")
    async with db.tenant(tenant.slug) as s:
        secret = await service.rotate_secret(
            Ctx(
                session=s,
                tenant=tenant,
                actor=Principal(kind="tenant", user_id=None, role="admin", name="x"),
            )
        )
    ext = new_id("c")
    async with httpx.AsyncClient(base_url=live_server) as api:
        call_id = (await post_signed(api, tenant.slug, secret, event("ringing", ext))).json()["call_id"]
        up = await post_signed(
            api,
            tenant.slug,
            secret,
            wav_bytes(1.0),
            path=f"calls/{ext}/recording",
            headers={"content-type": "audio/wav"},
        )
        assert up.status_code == 201, up.text
    supervisor = await user_factory(tenant, "supervisor")
    ctx = await browser.new_context(viewport=viewport)
    try:
        page = await ctx.new_page()
        await page.goto(f"{live_server}/t/{tenant.slug}/login")
        await page.fill("#f-email", supervisor.email)
        await page.fill("#f-password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state("networkidle")
        await page.goto(f"{live_server}/t/{tenant.slug}/calls/{call_id}")
        player = page.locator("#recordings audio")
        await player.wait_for()
        await page.evaluate(
            "() => { const a = document.querySelector('#recordings audio'); a.muted = true; return a.play(); }"
        )
        for _ in range(100):  # wait_for_function evaluates a string, which the CSP forbids
            if await page.evaluate("document.querySelector('#recordings audio').currentTime") > 0.2:
                break
            await page.wait_for_timeout(100)
        else:
            pytest.fail("the recording did not play")
        duration = await page.evaluate("document.querySelector('#recordings audio').duration")
        assert 0.9 < duration < 1.1
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]  # nothing forces sideways scrolling on a phone
        await page.screenshot(path=f"/tmp/recording_{viewport['width']}.png", full_page=True)
    finally:
        await ctx.close()
