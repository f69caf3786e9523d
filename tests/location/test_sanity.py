"""AML and location sanity: future-dated, older than the call, far outside the area → flagged, never chosen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.calls.models import Call
from app.location import sanity
from app.location.area import km_outside_province
from app.telephony.aml import AmlMessage, format_message
from app.telephony.models import AmlLocation
from tests.location.conftest import SAWAHLUNTO
from tests.telephony.conftest import ago, event, new_id, post_signed


def _aml(lat=SAWAHLUNTO[0], lon=SAWAHLUNTO[1], radius=15.0, at: datetime | None = None) -> str:
    at = (at or datetime.now(UTC)).replace(microsecond=0)
    return format_message(AmlMessage(lat, lon, radius, at, 68, "G", None, None, "510", "10"))


def test_area_inside_and_far_outside_the_province():
    assert km_outside_province("13", *SAWAHLUNTO) == 0.0
    assert km_outside_province("13", -0.95, 100.35) == 0.0  # Kota Padang
    assert km_outside_province("13", -2.99, 104.76) > 300  # Palembang, another province
    assert km_outside_province("13", 0.0, 0.0) > 10_000  # the classic 0/0 fix
    assert km_outside_province("99", 0.0, 0.0) is None


def test_best_ignores_flagged_and_prefers_accuracy_among_recent():
    t = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    bogus = sanity.Fix("aml", 1, 1, 5, t + timedelta(days=400), (sanity.FUTURE,))
    coarse = sanity.Fix("aml", 2, 2, 900, t + timedelta(minutes=3))
    fine = sanity.Fix("link", 3, 3, 12, t + timedelta(minutes=1))
    stale = sanity.Fix("aml", 4, 4, 3, t - timedelta(minutes=30))
    assert sanity.best([bogus, coarse, fine, stale]) is fine
    assert sanity.best([bogus]) is None


async def _call(client, tenant, number: str, started_s: float = 30) -> str:
    cid = new_id("c")
    r = await post_signed(
        client, tenant.slug, tenant.secret, event("ringing", cid, caller=number, at=ago(started_s))
    )
    assert r.status_code == 200, r.text
    return cid


async def _send(client, tenant, number: str, text: str):
    r = await post_signed(
        client, tenant.slug, tenant.secret, {"caller_number": number, "message": text}, path="aml"
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _state(db, tenant, cid: str):
    async with db.tenant(tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.external_id == cid))).scalar_one()
        locs = (
            (
                await s.execute(
                    select(AmlLocation).where(AmlLocation.call_id == call.id).order_by(AmlLocation.id)
                )
            )
            .scalars()
            .all()
        )
        return call, list(locs)


async def test_future_dated_fix_is_flagged_and_a_newer_real_fix_replaces_it(client, db, real_tenant):
    number = "+6281377700001"
    cid = await _call(client, real_tenant, number)
    real = await _send(client, real_tenant, number, _aml(radius=40))
    future = await _send(
        client, real_tenant, number, _aml(lat=-0.70, radius=5, at=datetime.now(UTC) + timedelta(days=2))
    )
    call, locs = await _state(db, real_tenant, cid)
    assert [loc.flags for loc in locs] == [[], ["future"]]
    assert (call.location_lat, call.location_radius_m) == (SAWAHLUNTO[0], 40.0)  # the bogus one did not win
    assert real["attached"] and future["attached"]
    # Today's code let the future-dated fix win and then refused every real fix as "older".
    await _send(client, real_tenant, number, _aml(lat=-0.683, radius=20))
    call, _ = await _state(db, real_tenant, cid)
    assert (call.location_lat, call.location_radius_m, call.location_source) == (-0.683, 20.0, "aml")


async def test_fix_older_than_the_call_is_flagged(client, db, real_tenant):
    number = "+6281377700002"
    cid = await _call(client, real_tenant, number, started_s=20)
    await _send(client, real_tenant, number, _aml(at=datetime.now(UTC) - timedelta(hours=3)))
    call, locs = await _state(db, real_tenant, cid)
    assert locs[0].flags == ["before_call"] and call.location_lat is None


async def test_early_fix_taken_long_before_the_call_is_flagged_when_the_call_appears(client, db, real_tenant):
    number = "+6281377700003"
    await _send(client, real_tenant, number, _aml(at=datetime.now(UTC) - timedelta(hours=1)))
    cid = await _call(client, real_tenant, number, started_s=1)
    call, locs = await _state(db, real_tenant, cid)
    assert locs[0].flags == ["before_call"] and call.location_lat is None


async def test_fix_far_outside_the_area_is_flagged(client, db, real_tenant):
    number = "+6281377700004"
    cid = await _call(client, real_tenant, number)
    await _send(client, real_tenant, number, _aml(lat=-6.2, lon=106.8))  # Jakarta
    await _send(client, real_tenant, number, _aml(radius=300))
    call, locs = await _state(db, real_tenant, cid)
    assert [loc.flags for loc in locs] == [["outside_area"], []]
    assert (call.location_lat, call.location_radius_m) == (SAWAHLUNTO[0], 300.0)


async def test_flagged_fix_is_shown_on_the_map_marked_and_not_chosen(client, db, real_tenant):
    from app.location.service import map_fixes

    number = "+6281377700005"
    cid = await _call(client, real_tenant, number)
    await _send(client, real_tenant, number, _aml(lat=0.5, lon=0.5))
    await _send(client, real_tenant, number, _aml(radius=25))
    call, _ = await _state(db, real_tenant, cid)
    async with db.tenant(real_tenant.slug) as s:
        fixes = await map_fixes(s, [call.id])
    assert [(f["flags"], f["best"]) for f in fixes] == [(["outside_area"], False), ([], True)]
    assert "jauh di luar wilayah" in fixes[0]["flag_text"]
