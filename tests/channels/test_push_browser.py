"""The OPD queue page subscribes to web push in Debian's headless Chromium.

What is real: the page's JavaScript, the service worker registered at /t/<slug>/opd, the
Notification permission, pushManager.subscribe() with our VAPID applicationServerKey (see
test_real_push_service_unreachable_is_reported), the POST of the subscription, the server
storing it, the outbox sending an RFC 8291-encrypted, VAPID-signed push to the subscription's
endpoint (the local push peer verifies and decrypts it), and the service worker's push handler
(fed the same payload through the DevTools protocol's ServiceWorker.deliverPushMessage) showing
the notification and telling the page. What is simulated: Chromium's own push service (FCM),
which needs Google's servers: the test replaces PushManager.subscribe with one returning a
subscription of the local push peer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.channels.models import ChannelMessage, PushSubscription
from tests.channels import peers
from tests.channels.conftest import configure, open_dispatch, run_worker
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

FAKE_PUSH_SERVICE = """
(() => {
  const sub = %s;
  const make = () => ({endpoint: sub.endpoint, expirationTime: null, options: {},
                       toJSON: () => ({endpoint: sub.endpoint, expirationTime: null, keys: sub.keys})});
  let current = null;
  PushManager.prototype.subscribe = async function (opts) {
    if (!opts || !opts.userVisibleOnly || !opts.applicationServerKey || opts.applicationServerKey.byteLength !== 65)
      throw new DOMException('applicationServerKey must be a 65-byte P-256 point', 'InvalidAccessError');
    window.__appServerKey = Array.from(new Uint8Array(opts.applicationServerKey));
    current = make(); return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


async def _login(context, live_server, slug, email):
    page = await context.new_page()
    await page.goto(f"{live_server}/t/{slug}/login")
    await page.fill("#f-email", email)
    await page.fill("#f-password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
async def test_opd_queue_subscribes_and_receives_a_dispatch_push(
    browser, live_server, db, tenant_factory, user_factory, arq_pool, channel_settings, provider_url, viewport
):
    from app.channels import vapid

    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("webpush",))
    staff = await user_factory(t, "opd_staff", "damkar")
    sub = peers.PUSH.subscribe()
    context = await browser.new_context(viewport=viewport)
    await context.grant_permissions(["notifications"], origin=live_server)
    await context.add_init_script(FAKE_PUSH_SERVICE % json.dumps(sub))
    try:
        page = await _login(context, live_server, t.slug, staff.email)
        await page.goto(f"{live_server}/t/{t.slug}/opd")
        await page.click("#push-enable")
        await page.wait_for_selector("#push-box[data-state=on]", timeout=15000)
        assert "Notifikasi aktif" in await page.inner_text("#push-box .push-status")
        # The page subscribed with the deployment's VAPID public key.
        key = bytes(await page.evaluate("window.__appServerKey"))
        assert key == peers.b64url_decode(vapid.public_key(channel_settings)) and len(key) == 65
        registration = await page.evaluate(
            "navigator.serviceWorker.getRegistration(location.pathname).then(r => r && r.active && r.active.scriptURL)"
        )
        assert registration == f"{live_server}/t/{t.slug}/opd/sw.js"

        async with db.tenant(t.slug) as s:
            (row,) = (await s.execute(select(PushSubscription))).scalars().all()
        assert row.endpoint == sub["endpoint"] and row.opd_id == staff.opd_id

        _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
        await run_worker(arq_pool)
        async with db.tenant(t.slug) as s:
            (msg,) = (await s.execute(select(ChannelMessage))).scalars().all()
        assert (msg.channel, msg.status) == ("webpush", "sent"), msg.last_error
        pushed = peers.PUSH.received[-1]["payload"]  # decrypted by the peer with the subscription's keys
        assert f"#{dispatch_id}" in pushed["title"]

        cdp = await context.new_cdp_session(page)
        seen = {}
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda e: seen.update({r["scopeURL"]: r["registrationId"] for r in e["registrations"]}),
        )
        await cdp.send("ServiceWorker.enable")
        await page.wait_for_timeout(300)
        reg_id = seen[f"{live_server}/t/{t.slug}/opd"]
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": live_server, "registrationId": reg_id, "data": json.dumps(pushed)},
        )
        await page.wait_for_selector("#push-last:not([hidden])", timeout=10000)
        assert f"#{dispatch_id}" in await page.inner_text("#push-last")
    finally:
        await context.close()


async def test_real_push_service_unreachable_is_reported(
    browser, live_server, tenant_factory, user_factory, channel_settings
):
    """Without the fake, headless Chromium refuses pushManager.subscribe() ("Registration failed
    - permission denied" even with the notifications permission granted; headful Chromium would
    need FCM, unreachable here): the page says so clearly instead of hanging."""
    t = await tenant_factory()
    staff = await user_factory(t, "opd_staff", "damkar")
    context = await browser.new_context()
    await context.grant_permissions(["notifications"], origin=live_server)
    try:
        page = await _login(context, live_server, t.slug, staff.email)
        await page.goto(f"{live_server}/t/{t.slug}/opd")
        await page.click("#push-enable")
        await page.wait_for_selector("#push-box[data-state=error]", timeout=30000)
        text = await page.inner_text("#push-box .push-status")
        assert text.startswith("Notifikasi tidak dapat diaktifkan")
        print("real Chromium pushManager.subscribe:", text)
    finally:
        await context.close()
