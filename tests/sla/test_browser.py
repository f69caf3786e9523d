"""The supervisor's SLA report and the admin's policy page in a real browser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core import clock as sla_clock
from tests.conftest import TEST_PASSWORD
from tests.sla.conftest import change_status, open_dispatch

pytestmark = pytest.mark.browser


async def _login(page, url, slug, email):
    await page.goto(f"{url}/t/{slug}/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")


async def test_report_filters_with_htmx_and_policy_form_errors(
    db, tenant_factory, user_factory, live_server, browser
):
    t = await tenant_factory()
    now = sla_clock.now()
    for minutes, opd in ((2, "damkar"), (7, "damkar"), (3, "bpbd"), (4, "ambulans")):
        _, d = await open_dispatch(db, t.slug, now - timedelta(minutes=30), opd_code=opd)
        await change_status(db, t.slug, d, "acknowledged", now - timedelta(minutes=30 - minutes))
    admin = await user_factory(t, "admin")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await ctx.new_page()
    await _login(page, live_server, t.slug, admin.email)
    await page.goto(f"{live_server}/t/{t.slug}/sla")
    assert await page.locator("svg.chart").count() >= 2
    await page.screenshot(path="/tmp/sla_report.png", full_page=True)
    # switching the measure swaps the report via htmx (no full reload) and updates the URL
    await page.select_option("#f-kind", "arrival")
    await page.wait_for_url("**kind=arrival**")
    assert "Tiba di lokasi" in await page.locator("#sla-report h2").inner_text()
    await page.goto(f"{live_server}/t/{t.slug}/admin/sla")
    await page.fill("#f-answer_s", "sebentar")
    await page.click("form.sla-form button[type=submit]")
    await page.wait_for_load_state("networkidle")
    assert "Format durasi" in await page.locator("#e-answer_s").inner_text()
    await page.screenshot(path="/tmp/sla_policies.png", full_page=True)
    await ctx.close()
