"""The console and OPD queue pages over HTTP (htmx requests), and the live SSE stream."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import redis.asyncio as aioredis

from app import live
from tests.conftest import TEST_PASSWORD

HX = {"hx-request": "true"}


async def test_console_page_has_the_slots_others_rely_on(tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    page = await op.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert 'id="map"' in html and f'sse-connect="/t/{tenant_a.slug}/live"' in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/vendor/htmx/sse.min.js" in html
    # Every script, style sheet and link is served by this deployment (no CDN). A plain substring
    # check for "cdn" failed at random: the CSRF token is random text and sometimes holds it.
    assets = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for key in ("Alt+E", "Alt+P", "Alt+S"):
        assert key in html
    staff = await client_as(tenant_a, "opd_staff", "damkar")
    redirect = await staff.get(f"/t/{tenant_a.slug}/", headers={"accept": "text/html"})
    assert redirect.status_code == 303 and redirect.headers["location"].endswith("/opd")
    assert (await staff.get(f"/t/{tenant_a.slug}/fragments/incidents")).status_code == 403


async def test_console_flow_call_incident_dispatch(tenant_a, client_as, ids_of, counts):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    base = f"/t/{tenant_a.slug}"

    prank = await op.post(
        f"{base}/calls", data={"caller_number": "0812 5555 0000", "outcome": "prank"}, headers=HX
    )
    assert prank.status_code == 200 and "dicatat: Iseng" in prank.headers["hx-trigger"]
    assert 'id="call-form"' in prank.text

    # A number that is not one is still a call: logged, flagged "nomor tidak tersedia".
    odd = await op.post(f"{base}/calls", data={"caller_number": "halo", "outcome": "prank"}, headers=HX)
    assert odd.status_code == 200 and "dicatat: Iseng" in odd.headers["hx-trigger"]
    none = await op.post(f"{base}/calls", data={"caller_number": "", "outcome": "silent"}, headers=HX)
    assert none.status_code == 200 and "dicatat" in none.headers["hx-trigger"]
    bad = await op.post(f"{base}/calls", data={"caller_number": "0812", "channel": "fax"}, headers=HX)
    assert bad.status_code == 422 and 'id="e-channel"' in bad.text

    emerg = await op.post(
        f"{base}/calls",
        data={"caller_number": "081255551111", "outcome": "emergency", "notes": "Rumah terbakar"},
        headers=HX,
    )
    assert emerg.status_code == 200 and 'id="incident-form"' in emerg.text
    call_id = int(re.search(r'name="call_id" value="(\d+)"', emerg.text).group(1))
    assert "Rumah terbakar" in emerg.text  # notes carried into the description

    before = await counts(tenant_a)
    wrong = await op.post(
        f"{base}/incidents",
        data={"call_id": call_id, "category_id": cats["fire"], "lat": "95", "lon": "100.6"},
        headers=HX,
    )
    assert wrong.status_code == 422 and 'id="e-lat"' in wrong.text
    assert await counts(tenant_a) == before

    opened = await op.post(
        f"{base}/incidents",
        data={
            "call_id": call_id,
            "category_id": cats["fire"],
            "lat": "-0.8",
            "lon": "100.65",
            "address": "Jl. Merdeka 5",
        },
        headers=HX,
    )
    assert opened.status_code == 200 and 'id="dispatch-form"' in opened.text
    checked = set(map(int, re.findall(r'value="(\d+)" checked', opened.text)))
    assert checked == {opds["damkar"], opds["bpbd"]}
    incident_id = int(re.search(r"/incidents/(\d+)/dispatch", opened.text).group(1))

    none = await op.post(f"{base}/incidents/{incident_id}/dispatch", data={}, headers=HX)
    assert none.status_code == 422 and "Pilih minimal satu OPD" in none.text
    sent = await op.post(
        f"{base}/incidents/{incident_id}/dispatch", data={"opd_ids": [str(opds["damkar"])]}, headers=HX
    )
    assert sent.status_code == 200 and "1 OPD" in sent.headers["hx-trigger"]

    frag = await op.get(f"{base}/fragments/incidents", headers=HX)
    card = frag.text[frag.text.index(f'id="incident-{incident_id}"') :]
    assert "Pemadam Kebakaran" in card and 'data-status="sent"' in card
    calls = await op.get(f"{base}/fragments/calls", headers=HX)
    assert "+6281255550000" in calls.text


async def test_opd_queue_one_click_and_stale_click(tenant_a, client_as, ids_of):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    damkar = await client_as(tenant_a, "opd_staff", "damkar")
    api = f"/api/v1/t/{tenant_a.slug}"
    call = (await op.post(f"{api}/calls", json={"caller_number": "081266667777"})).json()
    inc = (
        await op.post(
            f"{api}/incidents",
            json={"call_id": call["id"], "category_id": cats["fire"], "address": "Gudang Kayu Lubuk Sikarah"},
        )
    ).json()
    d = (await op.post(f"{api}/incidents/{inc['id']}/dispatches", json={"opd_ids": [opds["damkar"]]})).json()[
        0
    ]

    page = await damkar.get(f"/t/{tenant_a.slug}/opd", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Gudang Kayu Lubuk Sikarah" in page.text
    assert (await op.get(f"/t/{tenant_a.slug}/opd", headers={"accept": "text/html"})).status_code == 403

    url = f"/t/{tenant_a.slug}/opd/dispatches/{d['id']}/advance"
    one = await damkar.post(url, data={"version": "1"}, headers=HX)
    assert one.status_code == 200 and "Diterima" in one.headers["hx-trigger"]
    stale = await damkar.post(url, data={"version": "1"}, headers=HX)  # a second, stale click
    assert (
        stale.status_code == 200 and "sudah berubah" in json.loads(stale.headers["hx-trigger"])["showToast"]
    )
    got = (await damkar.get(f"{api}/dispatches/{d['id']}")).json()
    assert got["status"] == "acknowledged" and got["version"] == 2

    reject_url = f"/t/{tenant_a.slug}/opd/dispatches/{d['id']}/reject"
    empty = await damkar.post(reject_url, data={"version": "2"}, headers={**HX, "hx-prompt": ""})
    assert "Alasan" in json.loads(empty.headers["hx-trigger"])["showToast"]
    rej = await damkar.post(
        reject_url, data={"version": "2"}, headers={**HX, "hx-prompt": "Armada sedang di lokasi lain"}
    )
    assert rej.status_code == 200
    got = (await damkar.get(f"{api}/dispatches/{d['id']}")).json()
    assert got["status"] == "rejected" and got["reject_reason"] == "Armada sedang di lokasi lain"


async def _numsub(redis_url: str, channel: str) -> int:
    r = aioredis.from_url(redis_url)
    try:
        return dict(await r.pubsub_numsub(channel)).get(channel.encode(), 0)
    finally:
        await r.aclose()


async def test_live_stream_relays_notices_and_stops_on_disconnect(
    live_server, tenant_a, user_factory, settings
):
    user = await user_factory(tenant_a, "operator")
    channel = live.channel(tenant_a.slug)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as c:
        login_page = await c.get(f"/t/{tenant_a.slug}/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
        resp = await c.post(
            f"/t/{tenant_a.slug}/login",
            data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 303
        base_subs = await _numsub(settings.redis_url, channel)
        async with c.stream("GET", f"/t/{tenant_a.slug}/live") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            for _ in range(50):
                if await _numsub(settings.redis_url, channel) > base_subs:
                    break
                await asyncio.sleep(0.05)
            r = aioredis.from_url(settings.redis_url)
            await live.notify(r, tenant_a.slug, "dispatches", {"id": 1})
            await r.aclose()
            got = []
            async for line in lines:
                got.append(line)
                if line.startswith("data:"):
                    break
            assert "event: dispatches" in got
    # The client went away: the server must drop its Redis subscription promptly.
    for _ in range(100):
        if await _numsub(settings.redis_url, channel) == base_subs:
            break
        await asyncio.sleep(0.1)
    assert await _numsub(settings.redis_url, channel) == base_subs


async def test_live_stream_needs_a_login_of_this_tenant(client, tenant_a):
    resp = await client.get(f"/t/{tenant_a.slug}/live")
    assert resp.status_code == 401
