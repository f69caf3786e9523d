"""Two consoles of two regencies in real browsers: the sender hands an incident over, the
receiver's console rings live, its operator answers, the sender sees the answer live.
Desktop (accept) and phone 390x844 (decline, back in the sender's open incidents)."""

from __future__ import annotations

import asyncio

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


@pytest.fixture
async def worker(queue):
    """A real arq worker in this loop: it runs the delivery and report jobs the live server queues."""
    from arq.worker import Worker

    from app.worker import WorkerSettings

    w = Worker(
        functions=WorkerSettings.functions,
        redis_pool=queue,
        queue_name=WorkerSettings.queue_name,  # the deployment's namespaced queue the app enqueues on
        poll_delay=0.1,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        handle_signals=False,
    )
    task = asyncio.create_task(w.async_run())
    yield w
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await w.close()


@pytest.mark.parametrize(
    "viewport, answer",
    [({"width": 1440, "height": 1000}, "accept"), ({"width": 390, "height": 844}, "decline")],
    ids=["desktop-accept", "phone-decline"],
)
async def test_handover_between_two_consoles(
    browser, live_server, worker, regency, actor, incident_of, user_factory, viewport, answer
):
    sender, receiver = (
        await regency("89", province="Prov Peramban"),
        await regency("89", province="Prov Peramban"),
    )
    incident_id = await incident_of(await actor(sender))
    op_a, op_b = await user_factory(sender, "operator"), await user_factory(receiver, "operator")
    ctx_a = await browser.new_context(viewport=viewport)
    ctx_b = await browser.new_context(viewport=viewport)
    try:
        a = await _login(ctx_a, live_server, sender.slug, op_a.email)
        b = await _login(ctx_b, live_server, receiver.slug, op_b.email)
        await b.wait_for_selector("#handover >> text=Tidak ada serah terima masuk")
        await b.evaluate("window.__sameDocument = true")
        await a.evaluate("window.__sameDocument = true")

        card = a.locator(f"#incident-{incident_id}")
        await card.locator("button", has_text="Serahkan").click()
        await a.wait_for_selector(".handover-form")
        options = await a.locator("#handover-receiver optgroup").first.get_attribute("label")
        assert options == "Provinsi yang sama"
        await a.click(".handover-form button[type=submit]")  # nothing chosen: refused beside the field
        await a.select_option("#handover-receiver", receiver.slug)
        await a.fill("#handover-reason", "x")
        await a.click(".handover-form button[type=submit]")
        await a.wait_for_selector("#reason-error >> text=Alasan serah terima wajib diisi", timeout=5000)
        await a.fill("#handover-reason", "Lokasi kejadian di wilayah Anda")
        await a.click(".handover-form button[type=submit]")
        await a.wait_for_selector(f".handover-sent >> text=Diserahkan ke {receiver.name}")

        ringing = b.locator(".handover-ringing", has_text=sender.name)
        await ringing.wait_for(timeout=15_000)  # live: SSE notice → htmx re-fetch, no reload
        assert "+6281234500001" in await ringing.inner_text()
        await b.screenshot(path=f"/tmp/handover_ringing_{viewport['width']}.png", full_page=True)
        if answer == "accept":
            await ringing.locator("button", has_text="Terima").click()
            await b.wait_for_selector("#incidents .incident >> text=Serah terima dari", timeout=10_000)
            await a.wait_for_selector('#handover li[data-status="accepted"]', timeout=15_000)
        else:
            await ringing.locator("input[name=reason]").fill("Masih wilayah pengirim")
            await ringing.locator("button", has_text="Tolak").click()
            await b.wait_for_selector("#handover >> text=Tidak ada serah terima masuk")
            declined = a.locator('#handover li[data-status="declined"]')
            await declined.wait_for(timeout=15_000)
            assert "Masih wilayah pengirim" in await declined.inner_text()
            await a.locator(f"#incidents #incident-{incident_id}").wait_for()  # still open at the sender
        assert await a.evaluate("window.__sameDocument === true")
        assert await b.evaluate("window.__sameDocument === true")
        await a.screenshot(path=f"/tmp/handover_sender_{viewport['width']}.png", full_page=True)
    finally:
        await ctx_a.close()
        await ctx_b.close()
