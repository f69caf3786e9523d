"""axe-core (vendored, app/static/vendor/axe-core) finds no serious or critical violation on the
pages operators, OPD officers, supervisors, admins, applicants and Kominfo use; plus the forms that
must not fail silently outside the console (SLA report, national filters, deactivating a user)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from tests.conftest import TEST_PASSWORD
from tests.sla.conftest import open_dispatch

pytestmark = pytest.mark.browser

AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(" | "));
}"""


async def serious_violations(page) -> list[str]:
    await page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    return await page.evaluate(AXE)


async def tenant_login(ctx, live_server, slug, email):
    page = await ctx.new_page()
    await page.goto(f"{live_server}/t/{slug}/login")
    await page.fill("#f-email", email)
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page


@pytest.mark.parametrize(
    "viewport", [{"width": 1440, "height": 1000}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
async def test_no_serious_axe_violations(
    browser, live_server, db, tenant_factory, user_factory, kominfo_user, viewport, arq_pool
):
    t = await tenant_factory(prefix="ax")
    await open_dispatch(db, t.slug, datetime.now(UTC))
    found: dict[str, list[str]] = {}
    ctx = await browser.new_context(viewport=viewport)
    try:
        admin = await user_factory(t, "admin")
        page = await tenant_login(ctx, live_server, t.slug, admin.email)
        await page.wait_for_selector("#incidents .incident")
        await page.wait_for_selector("#calls h2")
        found["console"] = await serious_violations(page)
        for name, path in (("sla report", "/sla"), ("admin home", "/admin/")):
            await page.goto(f"{live_server}/t/{t.slug}{path}")
            found[name] = await serious_violations(page)
        await ctx.clear_cookies()
        officer = await user_factory(t, "opd_staff", "damkar")
        page = await tenant_login(ctx, live_server, t.slug, officer.email)
        await page.wait_for_selector(".job")
        found["opd queue"] = await serious_violations(page)
        await ctx.clear_cookies()
        await page.goto(f"{live_server}/signup")
        found["signup step 1"] = await serious_violations(page)
        await page.goto(f"{live_server}/login")
        await page.fill("#f-email", kominfo_user.email)
        await page.fill("#f-password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{live_server}/national")
        found["national dashboard"] = await serious_violations(page)
    finally:
        await ctx.close()
    assert not {k: v for k, v in found.items() if v}, found


async def test_bad_ranges_and_deactivation_are_never_silent(
    browser, live_server, tenant_factory, user_factory, kominfo_user
):
    t = await tenant_factory(prefix="rg")
    admin = await user_factory(t, "admin")
    victim = await user_factory(t, "operator")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await tenant_login(ctx, live_server, t.slug, admin.email)
        # SLA report: a range ending before it starts, changed by htmx, shows the message
        await page.goto(f"{live_server}/t/{t.slug}/sla")
        await page.fill("#f-to", "2020-01-01")
        await page.dispatch_event("#f-to", "change")
        await expect(page.locator("#sla-report [role=alert]")).to_contain_text("Tanggal akhir")

        # "Nonaktifkan" asks first; cancelling leaves the user active
        await page.goto(f"{live_server}/t/{t.slug}/admin/users")
        row = page.locator(f"#user-{victim.id}")
        page.once("dialog", lambda d: d.dismiss())
        await row.locator("button", has_text="Nonaktifkan").click()
        await page.wait_for_timeout(300)
        await expect(row.locator(".badge")).to_have_text("aktif")
        page.once("dialog", lambda d: d.accept())
        await row.locator("button", has_text="Nonaktifkan").click()
        await page.wait_for_load_state("networkidle")
        await expect(page.locator(f"#user-{victim.id} .badge")).to_have_text("nonaktif")

        # /national: a bad range is said beside the field, not replaced by the default dates
        await ctx.clear_cookies()
        await page.goto(f"{live_server}/login")
        await page.fill("#f-email", kominfo_user.email)
        await page.fill("#f-password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{live_server}/national")
        await page.fill("#f-from", "2026-03-10")
        await page.fill("#f-to", "2026-03-01")
        await page.dispatch_event("#f-to", "change")
        await expect(page.locator("#filters .error").first).to_contain_text("sebelum")
        await expect(page.locator("#toast-error")).to_be_visible()
        assert await page.input_value("#f-from") == "2026-03-10"
    finally:
        await ctx.close()
