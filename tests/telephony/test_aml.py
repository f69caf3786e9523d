"""AML over the signed endpoint: attachment to the live call (the parser's own tests are in
tests/unit/test_aml_parsing.py)."""

from __future__ import annotations

from sqlalchemy import select

from app.calls.models import Call
from app.telephony.aml import format_message
from app.telephony.models import AmlLocation
from tests.telephony.conftest import ago, event, new_id, post_signed
from tests.unit.test_aml_parsing import SAMPLE, _solok

# --- endpoint ---------------------------------------------------------------------------------------


async def test_position_attaches_to_the_live_call_of_that_number(client, db, tel):
    number, cid = "+6281355500001", new_id("c")
    await post_signed(client, tel.slug, tel.secret, event("ringing", cid, caller=number, at=ago(20)))
    text = format_message(_solok())
    resp = await post_signed(
        client, tel.slug, tel.secret, {"caller_number": "0813-5550-0001", "message": text}, path="aml"
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["attached"] is True and body["radius_m"] == 15.0
    async with db.tenant(tel.slug) as s:
        call = (await s.execute(select(Call).where(Call.external_id == cid))).scalar_one()
        assert (call.location_lat, call.location_lon, call.location_radius_m, call.location_source) == (
            -0.7893,
            100.6543,
            15.0,
            "aml",
        )
        assert body["call_id"] == call.id


async def test_position_before_the_ringing_event_is_attached_when_the_call_appears(client, db, tel):
    number, cid = "+6281355500002", new_id("c")
    resp = await post_signed(
        client,
        tel.slug,
        tel.secret,
        {"caller_number": number, "message": format_message(_solok(lat=-0.8))},
        path="aml",
    )
    assert resp.status_code == 201 and resp.json()["attached"] is False
    await post_signed(client, tel.slug, tel.secret, event("ringing", cid, caller=number))
    async with db.tenant(tel.slug) as s:
        call = (await s.execute(select(Call).where(Call.external_id == cid))).scalar_one()
        assert call.location_lat == -0.8
        loc = (await s.execute(select(AmlLocation).where(AmlLocation.id == resp.json()["id"]))).scalar_one()
        assert loc.call_id == call.id


async def test_ended_or_old_calls_do_not_receive_positions(client, db, tel):
    number, cid = "+6281355500003", new_id("c")
    await post_signed(client, tel.slug, tel.secret, event("ringing", cid, caller=number, at=ago(60)))
    await post_signed(client, tel.slug, tel.secret, event("ended", cid, caller=number, at=ago(30)))
    resp = await post_signed(
        client,
        tel.slug,
        tel.secret,
        {"caller_number": number, "message": format_message(_solok())},
        path="aml",
    )
    assert resp.status_code == 201 and resp.json()["attached"] is False


async def test_malformed_aml_is_a_clear_422_and_stores_nothing(client, db, tel, caplog):
    number = "+6281355500004"
    bad = SAMPLE.replace("ml=131", "ml=99")
    resp = await post_signed(
        client, tel.slug, tel.secret, {"caller_number": number, "message": bad}, path="aml"
    )
    assert resp.status_code == 422
    assert "ml" in resp.json()["errors"][0]["message"] and "AML" in resp.json()["errors"][0]["message"]
    assert "AML rejected" in caplog.text
    unsigned = await client.post(
        f"/api/v1/t/{tel.slug}/telephony/aml", json={"caller_number": number, "message": SAMPLE}
    )
    assert unsigned.status_code == 401
    bearer = await client.post(
        f"/api/v1/t/{tel.slug}/telephony/aml",
        headers={"authorization": "Bearer nope"},
        json={"caller_number": number, "message": SAMPLE},
    )
    assert bearer.status_code == 401
    async with db.tenant(tel.slug) as s:
        assert (
            await s.execute(select(AmlLocation).where(AmlLocation.caller_number == number))
        ).first() is None
