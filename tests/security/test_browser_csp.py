"""In a real browser, the CSP blocks nothing our own pages need (htmx loads, no violations)."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


async def test_security_pages_render_without_csp_violations(browser, live_server, tenant_a, user_factory):
    admin = await user_factory(tenant_a, "admin")
    context = await browser.new_context()
    page = await context.new_page()
    violations: list[str] = []
    page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    await page.goto(f"{live_server}/t/{tenant_a.slug}/login")
    await page.fill("#f-email", admin.email)
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    for path in ("/admin/tokens", "/admin/audit", "/admin/sso", "/profile", "/"):
        await page.goto(f"{live_server}/t/{tenant_a.slug}{path}")
        await page.wait_for_load_state("networkidle")
        assert await page.evaluate("typeof window.htmx") == "object", path
    await page.goto(f"{live_server}/t/{tenant_a.slug}/admin/tokens")
    await page.fill("#f-name", "PBX Telkom")
    await page.check("input[value='telephony:webhook']")
    await page.click("form[action$='/admin/tokens'] button[type=submit]")
    await page.wait_for_selector("#new-token")
    assert (await page.text_content("#new-token")).startswith("s112_")
    await page.screenshot(path="/tmp/security-tokens.png", full_page=True)
    await page.goto(f"{live_server}/t/{tenant_a.slug}/admin/audit?action=api_token")
    await page.screenshot(path="/tmp/security-audit.png", full_page=True)
    await context.close()
    assert not violations, violations
