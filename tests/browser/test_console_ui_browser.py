"""Issue 21 in a real (headless) Chromium: no error an operator or OPD officer could miss, phones
at 390x844 without sideways scrolling, alerts on the OPD queue, focus and scroll in the call flow."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from app import live
from tests.conftest import TEST_PASSWORD
from tests.sla.conftest import open_dispatch

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 1000}


async def login(context, live_server, slug, email):
    page = await context.new_page()
    await page.goto(f"{live_server}/t/{slug}/login")
    await page.fill("#f-email", email)
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page


async def no_sideways_scroll(page) -> None:
    width, viewport = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= viewport, f"page is {width}px wide in a {viewport}px viewport"


async def error_toast(page, text: str) -> None:
    await expect(page.locator("#toast-error")).to_contain_text(text)
    await expect(page.locator("#toast-error")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_every_console_form_shows_what_the_server_refused(
    browser, live_server, tenant_factory, user_factory, viewport
):
    tenant = await tenant_factory(prefix="ui")
    operator = await user_factory(tenant, "operator")
    ctx = await browser.new_context(viewport=viewport)
    try:
        page = await login(ctx, live_server, tenant.slug, operator.email)
        await page.wait_for_selector("#incidents >> text=Tidak ada insiden terbuka")
        if viewport is PHONE:
            await no_sideways_scroll(page)

        # 1. "Iseng / prank" with no number is LOGGED (112 works without a SIM; issue 19): no error.
        await page.click('#call-form button[value="prank"]')
        await expect(page.locator("#toast")).to_contain_text("dicatat")
        await expect(page.locator("#e-caller_number")).to_have_count(0)

        # 2. An over-long note (the browser's maxlength bypassed, as a paste tool or old browser would).
        await page.fill("#f-caller_number", "0812 1111 2222")
        await page.evaluate(
            "const n = document.getElementById('f-notes'); n.removeAttribute('maxlength');"
            " n.value = 'x'.repeat(2100);"
        )
        await page.click('#call-form button[value="non_emergency_info"]')
        await expect(page.locator("#e-notes")).to_be_visible()
        await expect(page.locator("#f-notes")).to_be_focused()  # the refused field, not "Nomor"

        # 3. An emergency, then an incident with a position that is not a number.
        await page.fill("#f-notes", "Banjir setinggi lutut")
        await page.click('#call-form button[value="emergency"]')
        await page.wait_for_selector("#incident-form")
        # the caller box now knows the call was logged (it said "belum dicatat" before)
        await expect(page.locator("#caller-history")).to_contain_text("Darurat")
        if viewport is DESKTOP:
            await expect(page.locator("#incident-form button[type=submit]")).to_be_in_viewport()
        await page.select_option("#f-category_id", label="Banjir")
        await page.fill("#f-lat", "di sebelah pasar")
        await page.fill("#f-lon", "100.6")
        await page.click("#incident-form button[type=submit]")
        await expect(page.locator("#e-lat")).to_be_visible()
        # the refused field keeps the focus once htmx has settled (htmx's own [autofocus] handling
        # used to move it to "Kategori" 20 ms later, scrolling the page away from the message)
        await page.wait_for_timeout(150)
        assert await page.evaluate("document.activeElement.id") == "f-lat"
        # "Buka insiden" is on screen with P1–P4 in one row, not pushed below the fold (both boxes
        # are read in one frame, so a scroll between two reads cannot fake or hide a difference)
        tops = await page.evaluate(
            "[1, 4].map(n => document.querySelector('.prio.p' + n).getBoundingClientRect().top)"
        )
        assert abs(tops[0] - tops[1]) < 5
        await page.fill("#f-lat", "-0.79")
        await page.click("#incident-form button[type=submit]")
        # the call stays linked to the incident after the refused first try
        await expect(page.locator("#incidents .incident").first).to_contain_text("1 panggilan")

        # 4. A dispatch with no OPD ticked.
        await page.wait_for_selector("#dispatch-form")
        ticked = page.locator("#dispatch-form input[name=opd_ids]:checked")
        assert await ticked.count() >= 1
        while await ticked.count():
            await ticked.first.uncheck()
        await page.click("#dispatch-form button[type=submit]")
        await expect(page.locator("#e-opd_ids")).to_be_visible()

        # 5. An answer that is not a form (JSON 404, a 5xx): an error toast, never silence.
        await page.evaluate(
            f"htmx.ajax('GET', '/t/{tenant.slug}/calls/999999999/form', {{target: '#intake'}})"
        )
        await error_toast(page, "tidak ditemukan")
        assert await page.locator("#dispatch-form").count() == 1  # the form stayed, not replaced
        await page.route("**/fragments/nearby**", lambda route: route.fulfill(status=503, body="down"))
        await page.evaluate(f"htmx.ajax('GET', '/t/{tenant.slug}/fragments/nearby', {{target: '#intake'}})")
        await error_toast(page, "503")
        if viewport is PHONE:
            await no_sideways_scroll(page)
        await page.screenshot(path=f"/tmp/console_errors_{viewport['width']}.png", full_page=True)
    finally:
        await ctx.close()


async def test_opd_queue_on_a_phone_alerts_on_a_new_dispatch(
    browser, live_server, db, tenant_factory, user_factory, arq_pool
):
    tenant = await tenant_factory(prefix="uq")
    officer = await user_factory(tenant, "opd_staff", "damkar")
    await open_dispatch(db, tenant.slug, datetime.now(UTC))
    ctx = await browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    await ctx.grant_permissions(["notifications"], origin=live_server)
    await ctx.add_init_script(
        "window.__notified = []; const Real = window.Notification;"
        " window.Notification = function (title, opts) { window.__notified.push(title + ': ' + opts.body);"
        "   return new Real(title, opts); };"
        " window.Notification.permission = Real.permission;"
        " window.Notification.requestPermission = Real.requestPermission.bind(Real);"
    )
    try:
        page = await login(ctx, live_server, tenant.slug, officer.email)
        assert page.url.endswith("/opd")
        await page.wait_for_selector(".job")
        await no_sideways_scroll(page)
        accept = page.locator("button.next[data-action=acknowledged]")
        box = await accept.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # "Terima" on screen
        assert (await page.title()).startswith("(1)")
        # the officer switches the sound off; the choice survives a reload
        await page.uncheck("#opd-sound")
        await page.reload()
        await page.wait_for_selector(".job")
        assert not await page.is_checked("#opd-sound")

        # a new dispatch arrives (operator elsewhere): title counter, announcement, notification
        await page.wait_for_timeout(300)  # the SSE stream is connected
        await open_dispatch(db, tenant.slug, datetime.now(UTC), priority=2)
        await live.notify(arq_pool, tenant.slug, "dispatches")  # what the call workflow sends on commit
        await expect(page.locator(".job")).to_have_count(2, timeout=10_000)
        await expect(page).to_have_title(re.compile(r"^\(2\)"))  # (wait_for_function evals: CSP)
        assert await page.evaluate("window.siagaOpd.alerts") == 1
        await expect(page.locator("#opd-announce")).to_contain_text("tugas baru")
        assert len(await page.evaluate("window.__notified")) == 1
        await no_sideways_scroll(page)

        # a stale click (someone else moved it on) is said, not swallowed
        await page.evaluate(
            "document.querySelector('button.next[data-action=acknowledged]')"
            ".setAttribute('hx-vals', JSON.stringify({version: '99'}))"
        )
        await page.locator("button.next[data-action=acknowledged]").first.click()
        await expect(page.locator("#toast")).to_contain_text("berubah")
        await page.screenshot(path="/tmp/opd_queue_phone.png", full_page=True)
    finally:
        await ctx.close()


async def ring(live_server, tenant, number: str) -> None:
    import httpx

    from tests.telephony.conftest import event, new_id, post_signed

    async with httpx.AsyncClient(base_url=live_server) as client:
        resp = await post_signed(
            client, tenant.slug, tenant.secret, event("ringing", new_id("c"), caller=number)
        )
        assert resp.status_code in (200, 201, 202), resp.text


async def test_angkat_focuses_the_form_and_new_ringing_calls_are_never_missed(
    browser, live_server, db, tenant_factory, user_factory
):
    from app.calls.service import Ctx
    from app.core.principal import Principal
    from app.telephony import service

    tenant = await tenant_factory(prefix="ut")
    async with db.tenant(tenant.slug) as s:
        ctx = Ctx(
            session=s,
            tenant=tenant,
            actor=Principal(kind="tenant", user_id=None, role="admin", name="t"),
        )
        tenant = dataclasses.replace(tenant, secret=await service.rotate_secret(ctx))
    operator = await user_factory(tenant, "operator")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await login(ctx, live_server, tenant.slug, operator.email)
        await page.wait_for_selector("#tel-ringing >> text=Tidak ada panggilan berdering")
        await ring(live_server, tenant, "+6281277770001")
        await page.locator("#tel-ringing .tel-answer").click()
        await page.wait_for_selector("#call-form[data-call]")
        await expect(page.locator("#f-notes")).to_be_focused()
        # the answered call is listed once (in "Panggilan aktif Anda"), not again under "Panggilan aktif"
        await page.wait_for_selector("#calls h2")
        assert await page.locator("#calls .active-calls li", has_text="+6281277770001").count() == 0
        assert await page.locator("#tel-ringing .tel-call.mine", has_text="+6281277770001").count() == 1
        # nothing rings any more: the tab title drops its "(1) ☎" count (it was read from the swapped
        # panel before htmx had settled, when the answered call still carried its "ringing" class)
        await expect(page).not_to_have_title(re.compile(r"^\(\d+\)"))

        # an emergency: the incident form scrolls into view, then a new call rings while scrolled away
        await page.click('#call-form button[value="emergency"]')
        await page.wait_for_selector("#incident-form")
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await page.wait_for_timeout(200)
        await ring(live_server, tenant, "+6281277770002")
        banner = page.locator("#new-ringing")
        await expect(banner).to_be_visible(timeout=10_000)
        await banner.click()
        await expect(page.locator(".tel-panel")).to_be_in_viewport()
        await expect(banner).to_be_hidden()
        # after a dispatch the page returns to the top, where "Panggilan masuk" is
        await page.select_option("#f-category_id", label="Kebakaran")
        await page.click("#incident-form button[type=submit]")
        await page.wait_for_selector("#dispatch-form")
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await page.click("#dispatch-form button[type=submit]")
        await page.wait_for_selector("#call-form:not([data-call])")
        await expect(page.locator(".tel-panel")).to_be_in_viewport()
    finally:
        await ctx.close()


async def test_the_map_opens_on_the_regency_and_works_without_tiles(
    browser, live_server, db, tenant_factory, user_factory
):
    from sqlalchemy import update

    from app.tenancy.models import Tenant

    tenant = await tenant_factory(prefix="um")
    operator = await user_factory(tenant, "operator")
    await open_dispatch(db, tenant.slug, datetime.now(UTC))
    async with db.public() as s:  # a home view, and a tile server that never answers
        await s.execute(
            update(Tenant)
            .where(Tenant.slug == tenant.slug)
            .values(
                map_lat=-0.7997,
                map_lon=100.6541,
                map_zoom=13,
                map_tiles_url="https://127.0.0.1:9/{z}/{x}/{y}.png",
            )
        )
        await s.commit()
    ctx = await browser.new_context(viewport=DESKTOP)
    try:
        page = await login(ctx, live_server, tenant.slug, operator.email)
        await expect(page.locator("#map")).to_have_attribute("data-outline-drawn", "1")
        assert await page.evaluate("!!window.siagaMap")
        centre = await page.evaluate("[window.siagaMap.getCenter().lat, window.siagaMap.getZoom()]")
        assert abs(centre[0] - -0.7997) < 0.01 and centre[1] == 13  # Kota Solok, not all of Indonesia
        await expect(page.locator("#map-status")).to_contain_text("Peta dasar tidak tersedia")
        assert await page.locator("#map .leaflet-overlay-pane path").count() >= 1  # the province outline
        assert "openstreetmap" not in await page.content()
    finally:
        await ctx.close()
