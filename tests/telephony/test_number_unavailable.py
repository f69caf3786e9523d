"""Every call is taken: no SIM card, a withheld or "anonymous" number, or garbage in the caller
field must still ring, be counted, get its answer clock and a callback task, and receive AML."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from app.calls.models import Call
from app.national.rollup import fold
from app.sla.models import SlaClock
from app.telephony.aml import format_message
from app.telephony.models import AmlLocation, CallbackTask
from tests.conftest import csrf_of, login
from tests.telephony.conftest import ago, event, new_id, post_signed
from tests.telephony.test_aml import _solok

UNUSABLE = ["", "anonymous", "Anonymous", "withheld", "PRIVATE", "12", "+62 abc", "0" * 40, None]


@pytest.mark.parametrize("raw", UNUSABLE)
async def test_webhook_takes_a_call_without_a_usable_number(client, db, tel, raw):
    cid = new_id("c")
    ev = event("ringing", cid, at=ago(5))
    if raw is None:
        del ev["caller_number"]
    else:
        ev["caller_number"] = raw
    resp = await post_signed(client, tel.slug, tel.secret, ev)
    assert resp.status_code == 200, resp.text
    async with db.tenant(tel.slug) as s:
        call = (await s.execute(select(Call).where(Call.external_id == cid))).scalar_one()
        assert call.caller_number is None and call.number_unavailable is True
        assert call.caller_number_raw == ((raw or "").strip()[:64] or None)
        assert call.telephony_state == "ringing"
        clock = (
            await s.execute(select(SlaClock).where(SlaClock.call_id == call.id, SlaClock.kind == "answer"))
        ).scalar_one_or_none()
        assert clock is not None, "the answer clock must start for a call without a number"


async def test_other_bad_fields_still_get_a_clear_422(client, tel):
    ev = event("ringing", new_id("c"), caller="anonymous")
    ev["occurred_at"] = "not a time"
    resp = await post_signed(client, tel.slug, tel.secret, ev)
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["occurred_at"]
    ev = event("ringing", new_id("c"))
    ev["caller_number"] = ["+6281234500001"]
    resp = await post_signed(client, tel.slug, tel.secret, ev)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "caller_number"


async def test_unavailable_call_rings_is_counted_and_a_missed_one_becomes_a_task(
    app, client, db, tel, user_factory
):

    cid = new_id("c")
    tenant_id = tel.id
    resp = await post_signed(
        client, tel.slug, tel.secret, event("ringing", cid, caller="anonymous", at=ago(30))
    )
    assert resp.status_code == 200
    call_id = resp.json()["call_id"]

    op = await user_factory(tel, "operator")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        assert (await login(c, tel.slug, op.email)).status_code == 303
        await csrf_of(c, f"/t/{tel.slug}/login")
        html = (await c.get(f"/t/{tel.slug}/telephony/panel")).text
        assert f'id="tel-call-{call_id}"' in html
        assert "Nomor tidak tersedia (anonymous)" in html

    resp = await post_signed(client, tel.slug, tel.secret, event("ended", cid, caller="anonymous"))
    assert resp.status_code == 200 and resp.json()["state"] == "missed"
    async with db.tenant(tel.slug) as s:
        task = (await s.execute(select(CallbackTask).where(CallbackTask.call_id == call_id))).scalar_one()
        assert task.status == "open" and task.caller_number is None

    await fold(db)
    async with db.public() as s:
        from app.national.models import national_daily

        counted = (
            await s.execute(
                select(func.coalesce(func.sum(national_daily.c.calls_total), 0)).where(
                    national_daily.c.tenant_id == tenant_id
                )
            )
        ).scalar_one()
    async with db.tenant(tel.slug) as s:
        stored = (await s.execute(select(func.count()).select_from(Call))).scalar_one()
    assert counted == stored, "national rollup must count calls without a number"


async def test_aml_finds_a_call_without_a_number_by_imei_or_imsi(client, db, tel):
    by_imei, by_imsi = new_id("c"), new_id("c")
    ev = event("ringing", by_imei, caller="", at=ago(10), imei="356938035643809")
    assert (await post_signed(client, tel.slug, tel.secret, ev)).status_code == 200
    ev = event("ringing", by_imsi, caller="anonymous", at=ago(10), imsi="510109876543210")
    assert (await post_signed(client, tel.slug, tel.secret, ev)).status_code == 200

    msg = format_message(_solok(imei="356938035643809", imsi=None, lat=-0.71))
    resp = await post_signed(client, tel.slug, tel.secret, {"message": msg}, path="aml")
    assert resp.status_code == 201, resp.text
    assert resp.json()["attached"] is True
    msg = format_message(_solok(imei=None, imsi="510109876543210", lat=-0.72))
    resp = await post_signed(
        client, tel.slug, tel.secret, {"caller_number": "withheld", "message": msg}, path="aml"
    )
    assert resp.status_code == 201 and resp.json()["attached"] is True
    async with db.tenant(tel.slug) as s:
        lat = dict(
            (
                await s.execute(
                    select(Call.external_id, Call.location_lat).where(
                        Call.external_id.in_([by_imei, by_imsi])
                    )
                )
            ).all()
        )
        assert lat == {by_imei: -0.71, by_imsi: -0.72}
        assert (
            await s.execute(
                select(func.count()).select_from(AmlLocation).where(AmlLocation.caller_number.is_(None))
            )
        ).scalar_one() >= 2


async def test_early_aml_without_number_attaches_by_imei_when_the_call_appears(client, db, tel):
    cid = new_id("c")
    msg = format_message(_solok(imei="356938035640000", imsi=None, lat=-0.75))
    resp = await post_signed(client, tel.slug, tel.secret, {"message": msg}, path="aml")
    assert resp.status_code == 201 and resp.json()["attached"] is False
    ev = event("ringing", cid, caller="", imei="356938035640000")
    assert (await post_signed(client, tel.slug, tel.secret, ev)).status_code == 200
    async with db.tenant(tel.slug) as s:
        call = (await s.execute(select(Call).where(Call.external_id == cid))).scalar_one()
        assert call.location_lat == -0.75
