"""A person logs in as a regency operator in a real (headless) Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


async def test_operator_logs_in_through_the_browser(browser, live_server, tenant_a, user_factory):
    user = await user_factory(tenant_a, "operator")
    page = await browser.new_page()
    await page.goto(f"{live_server}/t/{tenant_a.slug}/")
    assert "/login" in page.url
    await page.fill("#f-email", user.email)
    await page.fill("#f-password", "bukan-sandinya-1")
    await page.click("button[type=submit]")
    assert await page.locator("#e-password").is_visible()
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live_server}/t/{tenant_a.slug}/")
    assert user.full_name in await page.content()
    await page.close()
