"""National caller reputation within UU PDP: keyed hashes only, counts per regency and day from
call outcomes, the record on a ringing call with a graduated suggestion, rotation, retention,
and the ministry's trends without any number."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select, update

from app.calls import service as calls
from app.calls.models import Call
from app.calls.schemas import CallCorrection, CallCreate
from app.config import get_settings
from app.reputation import service
from app.reputation.models import caller_reputation as rep
from tests.conftest import TEST_PASSWORD, csrf_of, login


def _number() -> str:
    return "+62813" + str(uuid.uuid4().int)[:8]


async def _log(db, who, number, outcome):
    async with db.tenant(who.tenant.slug) as s:
        return await calls.create_call(who.ctx(s), CallCreate(caller_number=number, outcome=outcome))


async def _record(db, tenant, number):
    async with db.tenant(tenant.slug) as s:
        return await service.national_record(s, number)


async def test_pranks_in_three_regencies_make_one_national_record(db, engine, regency, actor):
    number = _number()
    tenants = [await regency("93", province="Prov Iseng") for _ in range(3)]
    who = [await actor(t) for t in tenants]
    for w, n in zip(who, (3, 2, 2), strict=True):
        for _ in range(n):
            await _log(db, w, number, "prank")
    await _log(db, who[0], number, "silent")
    await _log(db, who[1], number, "misdial")  # neither prank nor genuine
    record = await _record(db, tenants[0], number)
    assert (record.prank, record.silent, record.genuine, record.regencies) == (7, 1, 0, 3)
    assert service.summary(record) == "7 iseng · 1 diam di 3 kab/kota dalam 30 hari"
    # Stored only as a keyed hash: neither the number nor its plain SHA-256 is in the table.
    async with engine.connect() as conn:
        rows = (await conn.execute(select(rep))).mappings().all()
    assert rows and all(number.encode() not in bytes(r["number_hash"]) for r in rows)
    assert hashlib.sha256(number.encode()).digest() not in {bytes(r["number_hash"]) for r in rows}
    assert all(number not in repr(dict(r)) for r in rows)


async def test_a_correction_moves_the_count(db, regency, actor):
    number = _number()
    tenant = await regency("93", province="Prov Iseng")
    who = await actor(tenant)
    call = await _log(db, who, number, "prank")
    async with db.tenant(tenant.slug) as s:
        await calls.correct_call(
            who.ctx(s), call.id, CallCorrection(outcome="emergency", reason="ternyata darurat")
        )
    record = await _record(db, tenant, number)
    assert (record.prank, record.genuine) == (0, 1)


def test_graduated_scale_suggests_and_never_blocks():
    r = service.Record
    assert service.suggest(r(prank=1), 0).code is None
    assert service.suggest(r(prank=3), 0).code == "sms_warning"
    assert service.suggest(r(prank=4, silent=1), 0).code == "lower_queue"
    assert service.suggest(r(prank=1), 5).code == "lower_queue"
    assert service.suggest(r(prank=4, regencies=3), 0).code == "supervisor_review"
    assert service.suggest(r(prank=12, genuine=1), 0).code == "lower_queue"  # a real emergency lowers a step
    assert {m[1] for m in service.MEASURES} == {None, "sms_warning", "lower_queue", "supervisor_review"}


@pytest.fixture
def keys_env(monkeypatch):
    """NATIONAL_HASH_KEYS as the running app sees it. The live settings object is patched (keys
    are read at each use), never replaced: clearing get_settings' cache would leave later tests
    patching an object the app no longer reads."""

    def use(value: str):
        monkeypatch.setattr(get_settings(), "national_hash_keys", value)

    return use


async def test_key_rotation_keeps_records_and_rehashes_them(db, engine, regency, actor, keys_env):
    from app.reputation.rebuild import rebuild_tenant

    old, new = "k1:" + "a" * 40, "k2:" + "b" * 40
    keys_env(old)
    number = _number()
    tenant = await regency("92", province="Prov Rotasi")
    who = await actor(tenant)
    for _ in range(3):
        await _log(db, who, number, "prank")
    keys_env(f"{new},{old}")  # step 1: the new key first, the old one still matched
    await _log(db, who, number, "prank")
    assert (await _record(db, tenant, number)).prank == 4
    await rebuild_tenant(db, tenant.slug)  # step 2: re-hash from the regency's own calls
    async with engine.connect() as conn:
        key_ids = set(
            (await conn.execute(select(rep.c.key_id).where(rep.c.tenant_id == tenant.id))).scalars()
        )
    assert key_ids == {"k2"}
    keys_env(new)  # step 3: the old key is gone
    assert (await _record(db, tenant, number)).prank == 4
    keys_env("k1:short")
    from app.reputation.keys import keys

    with pytest.raises(ValueError):
        keys()


async def test_retention_deletes_old_rows_only(db, engine, regency):
    tenant = await regency("92", province="Prov Rotasi")
    old_day = date.today() - timedelta(days=get_settings().reputation_retention_days + 1)
    async with engine.begin() as conn:
        for day, marker in ((old_day, b"o"), (date.today(), b"n")):
            await conn.execute(
                insert(rep).values(
                    key_id="dev", number_hash=marker * 32, tenant_id=tenant.id, day=day, prank=1
                )
            )
    async with db.public() as s:
        assert await service.purge_expired(s) >= 1
    async with engine.connect() as conn:
        left = set(
            (await conn.execute(select(rep.c.number_hash).where(rep.c.tenant_id == tenant.id))).scalars()
        )
    assert left == {b"n" * 32}


async def test_ringing_call_shows_national_and_local_record_and_a_suggestion(
    app, db, regency, actor, user_factory
):
    number = _number()
    here = await regency("91", province="Prov Dering")
    others = [await regency("91", province="Prov Dering") for _ in range(2)]
    for t in others:
        w = await actor(t)
        for _ in range(3):
            await _log(db, w, number, "prank")
    me = await actor(here)
    await _log(db, me, number, "prank")
    ringing = await _log(db, me, number, None)
    quiet = await _log(db, me, _number(), None)
    async with db.tenant(here.slug) as s:
        await s.execute(
            update(Call)
            .where(Call.id.in_([ringing.id, quiet.id]))
            .values(telephony_state="ringing", operator_id=None, received_at=datetime.now(UTC))
        )
        # the repeat caller rang first; the scale's step 3 puts the other call ahead of it
        await s.execute(
            update(Call)
            .where(Call.id == ringing.id)
            .values(received_at=datetime.now(UTC) - timedelta(seconds=20))
        )
        await s.commit()
    user = await user_factory(here, "operator")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        assert (await login(c, here.slug, user.email, TEST_PASSWORD)).status_code == 303
        await csrf_of(c, f"/t/{here.slug}/login")
        html = (await c.get(f"/t/{here.slug}/telephony/panel")).text
    assert "Nasional: 7 iseng di 3 kab/kota dalam 30 hari" in html
    assert "Di sini: 1 iseng/diam dalam 30 hari" in html
    assert "Minta tinjauan supervisor" in html and "tidak pernah diblokir" in html
    assert html.index(f"tel-call-{quiet.id}") < html.index(f"tel-call-{ringing.id}")
    assert f'hx-post="/t/{here.slug}/telephony/calls/{ringing.id}/claim"' in html  # still answerable


async def test_kominfo_trends_by_province_without_any_number(app, db, regency, actor, engine):
    number = _number()
    tenant = await regency("90", province="Prov Tren")
    w = await actor(tenant)
    for _ in range(3):
        await _log(db, w, number, "prank")
    async with db.public() as s:
        trends = await service.province_trends(s)
    row = next(t for t in trends if t["province"] == "Prov Tren")
    assert row["prank"] == 3 and row["repeat_callers"] == 1
    assert all(set(t) == {"province", "week", "prank", "silent", "repeat_callers"} for t in trends)
