"""The location-share link: sent through the regency's WhatsApp/SMS channel adapters (validated by the
local peers of tests/channels), single use, expiring."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditLog
from app.calls.models import Call, EventLog
from app.location.models import LinkFix, LocationLink
from tests.channels import peers
from tests.channels.conftest import channel_settings, citizen_channels, provider_url  # noqa: F401
from tests.conftest import csrf_of, login
from tests.location.conftest import SAWAHLUNTO
from tests.telephony.conftest import event, new_id, post_signed


@pytest.fixture
async def providers(real_tenant, citizen_channels):  # noqa: F811
    """The regency's own WhatsApp/SMS channels (admin channel pages) on the local peers."""
    await citizen_channels(real_tenant.slug)
    return peers


async def _live_call(client, tenant, number: str) -> int:
    cid = new_id("c")
    r = await post_signed(client, tenant.slug, tenant.secret, event("ringing", cid, caller=number))
    return r.json()["call_id"]


async def _operator(client, tenant, user_factory):
    user = await user_factory(tenant, "operator")
    assert (await login(client, tenant.slug, user.email)).status_code == 303
    return {"x-csrf-token": await csrf_of(client, f"/t/{tenant.slug}/login"), "hx-request": "true"}


def _path(url: str) -> str:
    return re.search(r"(/t/[^ ]+/lokasi/[A-Za-z0-9_-]+)", url).group(1)


async def test_whatsapp_link_single_use_path(client, db, real_tenant, user_factory, providers):
    h = await _operator(client, real_tenant, user_factory)
    call_id = await _live_call(client, real_tenant, "+6281377710001")
    resp = await client.post(
        f"/t/{real_tenant.slug}/calls/{call_id}/location-link", data={"channel": "whatsapp"}, headers=h
    )
    assert resp.status_code == 201, resp.text
    assert "terkirim lewat WhatsApp" in resp.headers["hx-trigger"]
    (msg,) = providers.WA.received
    assert msg["to"] == "6281377710001" and "/lokasi/" in msg["text"]["body"]
    path = _path(msg["text"]["body"])

    page = await client.get(path)
    assert page.status_code == 200 and "Kirim lokasi saya" in page.text
    # Tiny for low-end phones: the page, its one script and stylesheet together under 4 KB.
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert len(assets) == 2
    sizes = [len(page.content)] + [len((await client.get(a)).content) for a in assets]
    assert sum(sizes) < 4096, sizes

    pos = {
        "lat": SAWAHLUNTO[0],
        "lon": SAWAHLUNTO[1],
        "accuracy": 18.5,
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
    }
    ok = await client.post(path, json=pos)
    assert ok.status_code == 201, ok.text
    again = await client.post(path, json=pos)
    assert again.status_code == 410 and "sudah digunakan" in again.json()["detail"]
    reopened = await client.get(path)
    assert reopened.status_code == 410 and "sudah digunakan" in reopened.text

    async with db.tenant(real_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.id == call_id))).scalar_one()
        assert (call.location_source, call.location_radius_m) == ("link", 18.5)
        assert len((await s.execute(select(LinkFix).where(LinkFix.call_id == call_id))).all()) == 1
        kinds = (await s.execute(select(EventLog.kind).where(EventLog.entity_id == call_id))).scalars().all()
        assert "location_link_sent" in kinds and "location" in kinds
        assert (await s.execute(select(AuditLog).where(AuditLog.action == "location.link_created"))).first()


async def test_sms_link_goes_through_the_regencys_gateway_and_expired_link_says_so(
    client, db, real_tenant, user_factory, providers
):
    h = await _operator(client, real_tenant, user_factory)
    call_id = await _live_call(client, real_tenant, "+6281377710002")
    resp = await client.post(
        f"/t/{real_tenant.slug}/calls/{call_id}/location-link", data={"channel": "sms"}, headers=h
    )
    assert resp.status_code == 201, resp.text
    (msg,) = providers.SMS.received  # the peer checked the regency's userkey/passkey
    assert msg["to"] == "081377710002"
    path = _path(msg["message"])
    async with db.tenant(real_tenant.slug) as s:
        await s.execute(
            update(LocationLink)
            .where(LocationLink.call_id == call_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await s.commit()
    page = await client.get(path)
    assert page.status_code == 410 and "kedaluwarsa" in page.text
    post = await client.post(path, json={"lat": -0.68, "lon": 100.77, "accuracy": 10})
    assert post.status_code == 410 and "kedaluwarsa" in post.json()["detail"]
    assert (await client.get(f"/t/{real_tenant.slug}/lokasi/not-a-real-token")).status_code == 404


async def test_bad_positions_are_422_naming_the_field_and_do_not_burn_the_link(
    client, db, real_tenant, user_factory, providers
):
    h = await _operator(client, real_tenant, user_factory)
    call_id = await _live_call(client, real_tenant, "+6281377710003")
    await client.post(
        f"/t/{real_tenant.slug}/calls/{call_id}/location-link", data={"channel": "sms"}, headers=h
    )
    path = _path(providers.SMS.received[0]["message"])
    for bad, field in [
        ({"lat": 91, "lon": 100, "accuracy": 5}, "lat"),
        ({"lat": -0.6, "lon": 100, "accuracy": 0}, "accuracy"),
        ({"lat": -0.6, "lon": 100, "accuracy": 5, "extra": 1}, "extra"),
        ({"lat": -0.6, "lon": 100, "accuracy": 5, "timestamp": 10**16}, "timestamp"),
    ]:
        r = await client.post(path, json=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (bad, r.text)
    assert (await client.post(path, content=b"not json")).status_code == 422
    assert (await client.post(path, json={"lat": -0.68, "lon": 100.77, "accuracy": 9})).status_code == 201


async def test_most_accurate_recent_fix_wins_between_aml_and_link(
    client, db, real_tenant, user_factory, providers
):
    from app.telephony.aml import AmlMessage, format_message

    h = await _operator(client, real_tenant, user_factory)
    number = "+6281377710004"
    call_id = await _live_call(client, real_tenant, number)
    aml = format_message(
        AmlMessage(
            -0.681, 100.776, 60.0, datetime.now(UTC).replace(microsecond=0), 68, "G", None, None, "510", "10"
        )
    )
    await post_signed(
        client, real_tenant.slug, real_tenant.secret, {"caller_number": number, "message": aml}, path="aml"
    )
    await client.post(
        f"/t/{real_tenant.slug}/calls/{call_id}/location-link", data={"channel": "sms"}, headers=h
    )
    path = _path(providers.SMS.received[0]["message"])
    assert (
        await client.post(path, json={"lat": -0.6822, "lon": 100.7761, "accuracy": 400})
    ).status_code == 201
    async with db.tenant(real_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.id == call_id))).scalar_one()
        assert (call.location_source, call.location_radius_m) == ("aml", 60.0)  # AML is more accurate


async def test_provider_failure_is_reported_to_the_operator(client, db, real_tenant, user_factory, providers):
    h = await _operator(client, real_tenant, user_factory)
    call_id = await _live_call(client, real_tenant, "+6281377710005")
    providers.WA.fail_next.append(500)
    resp = await client.post(
        f"/t/{real_tenant.slug}/calls/{call_id}/location-link", data={"channel": "whatsapp"}, headers=h
    )
    assert resp.status_code == 502 and "GAGAL" in resp.headers["hx-trigger"]
    async with db.tenant(real_tenant.slug) as s:
        link = (await s.execute(select(LocationLink).where(LocationLink.call_id == call_id))).scalar_one()
        assert link.send_state == "failed" and "500" in link.send_error
    bad = await client.post(
        f"/t/{real_tenant.slug}/calls/{call_id}/location-link", data={"channel": "fax"}, headers=h
    )
    assert bad.status_code == 422
