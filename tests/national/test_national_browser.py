"""Kominfo uses the national dashboard in a real (headless) Chromium: filters and sorting by htmx."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import TEST_PASSWORD
from tests.national.conftest import PROV
from tests.national.test_national import FROM, until

pytestmark = pytest.mark.browser


async def test_dashboard_filters_and_sorts_with_htmx(browser, live_server, seeded, kominfo_user):
    page = await browser.new_page(viewport={"width": 1440, "height": 1000})
    await page.goto(f"{live_server}/national")
    assert "/login" in page.url
    await page.fill("#f-email", kominfo_user.email)
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live_server}/national")
    assert await page.locator("svg.map path").count() == 38

    await page.fill("#f-from", FROM)
    await page.fill("#f-to", until())
    await page.select_option("#f-province", PROV)  # change → hx-get, pushes the URL
    await page.wait_for_url("**province=Papua%20Pegunungan**")
    await expect(page.locator("[data-kpi=calls] strong")).to_have_text("13")
    assert await page.locator("#regencies-table tbody tr").count() == 2

    await page.click("a[data-sort=calls]")  # currently desc → asc
    await page.wait_for_url("**dir=asc**")
    first = await page.locator("#regencies-table tbody tr").first.get_attribute("data-slug")
    assert first == seeded["b"].slug
    assert await page.locator("#f-dir").input_value() == "asc"  # the filter form keeps the new sort
    await page.screenshot(path="/tmp/national_dashboard.png", full_page=True)
    await page.close()
