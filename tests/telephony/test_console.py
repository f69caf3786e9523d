"""Operators: claiming a ringing call (exactly one wins), the panel, callbacks, watch list, secrets."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.calls.models import Call
from app.telephony.models import CallbackTask, WatchEntry
from tests.conftest import csrf_of, login
from tests.telephony.conftest import ago, event, new_id, post_signed


async def _logged_in(app, tenant, user):
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
    assert (await login(c, tenant.slug, user.email)).status_code == 303
    c.headers["x-csrf-token"] = await csrf_of(c, f"/t/{tenant.slug}/login")
    return c


@pytest.fixture(scope="module")
async def people(tel, user_factory):
    return {role: await user_factory(tel, role) for role in ("operator", "supervisor", "admin")} | {
        "operator2": await user_factory(tel, "operator")
    }


async def _ring(client, tel, number="+6281311100001", at=None) -> int:
    resp = await post_signed(
        client, tel.slug, tel.secret, event("ringing", new_id("c"), caller=number, at=at)
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["call_id"]


async def test_two_operators_answer_at_once_exactly_one_wins(app, client, db, tel, people):
    a, b = await _logged_in(app, tel, people["operator"]), await _logged_in(app, tel, people["operator2"])
    try:
        for _ in range(5):
            call_id = await _ring(client, tel)
            url = f"/api/v1/t/{tel.slug}/telephony/calls/{call_id}/claim"
            ra, rb = await asyncio.gather(a.post(url), b.post(url))
            codes = sorted([ra.status_code, rb.status_code])
            assert codes == [200, 409], (ra.text, rb.text)
            loser = ra if ra.status_code == 409 else rb
            assert "sudah diangkat oleh" in loser.json()["detail"]
            winner = (ra if ra.status_code == 200 else rb).json()
            async with db.tenant(tel.slug) as s:
                call = await s.get(Call, call_id)
            assert call.operator_id == winner["operator_id"]
            assert call.telephony_state == "answered" and call.answered_at is not None
        # The winner clicking again is harmless; a claim after the call ended is refused.
        again = await (a if ra.status_code == 200 else b).post(url)
        assert again.status_code == 200
        ended = await _ring(client, tel, number="+6281311100002", at=ago(10))
        async with db.tenant(tel.slug) as s:
            ext = (await s.get(Call, ended)).external_id
        await post_signed(client, tel.slug, tel.secret, event("ended", ext, caller="+6281311100002"))
        late = await a.post(f"/api/v1/t/{tel.slug}/telephony/calls/{ended}/claim")
        assert late.status_code == 409 and "berakhir" in late.json()["detail"]
        assert (await a.post(f"/api/v1/t/{tel.slug}/telephony/calls/999999999/claim")).status_code == 404
    finally:
        await a.aclose()
        await b.aclose()


async def test_panel_shows_ringing_calls_with_reputation_and_watch_warning(app, client, db, tel, people):
    number = "+6281311100009"
    async with db.tenant(tel.slug) as s:
        s.add(
            WatchEntry(
                caller_number=number, reason="Sering mengaku kebakaran", created_by=people["supervisor"].id
            )
        )
        await s.commit()
    call_id = await _ring(client, tel, number=number)
    op = await _logged_in(app, tel, people["operator"])
    try:
        html = (await op.get(f"/t/{tel.slug}/telephony/panel")).text
        assert f'id="tel-call-{call_id}"' in html and number in html
        assert "Daftar pantauan: Sering mengaku kebakaran" in html
        assert "Angkat" in html and "tidak pernah diblokir" in html
        resp = await op.post(f"/t/{tel.slug}/telephony/calls/{call_id}/claim", headers={"hx-request": "true"})
        assert resp.status_code == 200 and "Anda angkat" in resp.headers["hx-trigger"]
        assert f'id="tel-call-{call_id}"' in resp.text and "Panggilan aktif Anda" in resp.text
        other = await _logged_in(app, tel, people["operator2"])
        resp = await other.post(
            f"/t/{tel.slug}/telephony/calls/{call_id}/claim", headers={"hx-request": "true"}
        )
        assert resp.status_code == 200 and "sudah diangkat oleh" in resp.headers["hx-trigger"]
        assert f'id="tel-call-{call_id}"' not in resp.text
        await other.aclose()
    finally:
        await op.aclose()


async def test_callback_tasks_list_and_done(app, client, db, tel, people):
    number = "+6281311100020"
    cid = new_id("c")
    await post_signed(client, tel.slug, tel.secret, event("ringing", cid, caller=number, at=ago(30)))
    await post_signed(client, tel.slug, tel.secret, event("ended", cid, caller=number, at=ago(1)))
    op = await _logged_in(app, tel, people["operator"])
    try:
        page = (await op.get(f"/t/{tel.slug}/telephony/callbacks")).text
        task_id = int(re.search(rf'id="cb-(\d+)">\s*<td><strong>{re.escape(number)}', page).group(1))
        resp = await op.post(
            f"/t/{tel.slug}/telephony/callbacks/{task_id}/done", data={"note": "Salah sambung"}
        )
        assert resp.status_code == 303
        async with db.tenant(tel.slug) as s:
            task = await s.get(CallbackTask, task_id)
        assert (
            task.status == "done" and task.done_by == people["operator"].id and task.note == "Salah sambung"
        )
        assert (await op.post(f"/t/{tel.slug}/telephony/callbacks/{task_id}/done")).status_code == 409
        assert number not in (await op.get(f"/t/{tel.slug}/telephony/callbacks")).text
        assert number in (await op.get(f"/t/{tel.slug}/telephony/callbacks?status=done")).text
    finally:
        await op.aclose()


async def test_watch_list_is_for_supervisors_only(app, db, tel, people):
    op = await _logged_in(app, tel, people["operator"])
    sup = await _logged_in(app, tel, people["supervisor"])
    try:
        assert (await op.get(f"/t/{tel.slug}/telephony/watch")).status_code == 403
        resp = await op.post(
            f"/t/{tel.slug}/telephony/watch", data={"caller_number": "08129990001", "reason": "iseng"}
        )
        assert resp.status_code == 403
        bad = await sup.post(f"/t/{tel.slug}/telephony/watch", data={"caller_number": "abc", "reason": ""})
        assert bad.status_code == 422
        assert 'id="e-caller_number"' in bad.text and 'id="e-reason"' in bad.text
        ok = await sup.post(
            f"/t/{tel.slug}/telephony/watch",
            data={"caller_number": "0812-9990-0001", "reason": "Iseng 12 kali minggu ini"},
        )
        assert ok.status_code == 303
        dup = await sup.post(
            f"/t/{tel.slug}/telephony/watch",
            data={"caller_number": "+6281299900001", "reason": "lagi lagi iseng"},
        )
        assert dup.status_code == 422 and "sudah ada" in dup.text
        async with db.tenant(tel.slug) as s:
            entry = (
                await s.execute(
                    select(WatchEntry).where(
                        WatchEntry.caller_number == "+6281299900001", WatchEntry.removed_at.is_(None)
                    )
                )
            ).scalar_one()
            audit = (
                (
                    await s.execute(
                        select(AuditLog.action).where(
                            AuditLog.entity == "watch_entry", AuditLog.entity_id == str(entry.id)
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert audit == ["watch.added"]
        assert (await op.post(f"/t/{tel.slug}/telephony/watch/{entry.id}/remove")).status_code == 403
        assert (await sup.post(f"/t/{tel.slug}/telephony/watch/{entry.id}/remove")).status_code == 303
        assert "+6281299900001" not in (await sup.get(f"/t/{tel.slug}/telephony/watch")).text
    finally:
        await op.aclose()
        await sup.aclose()


async def test_admin_rotates_the_secret_and_sees_it_once(app, client, tel, people):
    sup = await _logged_in(app, tel, people["supervisor"])
    adm = await _logged_in(app, tel, people["admin"])
    try:
        assert (await sup.get(f"/t/{tel.slug}/telephony/settings")).status_code == 403
        assert (await sup.post(f"/t/{tel.slug}/telephony/settings/rotate")).status_code == 403
        page = await adm.post(f"/t/{tel.slug}/telephony/settings/rotate")
        assert page.status_code == 200
        secret = re.search(r'id="new-secret">([0-9a-f]{64})<', page.text).group(1)
        assert secret not in (await adm.get(f"/t/{tel.slug}/telephony/settings")).text
        ok = await post_signed(client, tel.slug, secret, event("ringing", new_id("c")))
        assert ok.status_code == 200
        assert (
            await post_signed(client, tel.slug, tel.secret, event("ringing", new_id("c")))
        ).status_code == 200
        object.__setattr__(tel, "secret", secret)  # the session's fixture: later tests sign with it
    finally:
        await sup.aclose()
        await adm.aclose()
