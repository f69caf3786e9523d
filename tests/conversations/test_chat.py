"""The operator's side: answer like a call, reply with delivery states, the deaf mark, ending it,
answer clocks and per-channel figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.calls.models import Call
from app.conversations.models import Message
from app.sla.models import SlaClock
from tests.conftest import csrf_of, login
from tests.conversations.conftest import post_sms, post_wa, wa_status, wa_text


@pytest.fixture
def providers(wa_env):
    return wa_env


async def _conversation(client, db, tenant, number: str) -> int:
    await post_wa(client, tenant.slug, wa_text(number, "Tolong, rumah saya kemasukan air"))
    async with db.tenant(tenant.slug) as s:
        return (await s.execute(select(Call.id).where(Call.caller_number == "+" + number))).scalar_one()


async def _as(client, tenant, user) -> dict:
    client.cookies.clear()
    assert (await login(client, tenant.slug, user.email)).status_code == 303
    return {"x-csrf-token": await csrf_of(client, f"/t/{tenant.slug}/login"), "hx-request": "true"}


async def test_operator_answers_replies_and_sees_delivery_states(
    client, db, chat_tenant, user_factory, providers
):
    number = "6281300000201"
    call_id = await _conversation(client, db, chat_tenant, number)
    op = await user_factory(chat_tenant, "operator")
    h = await _as(client, chat_tenant, op)
    panel = await client.get(f"/t/{chat_tenant.slug}/telephony/panel")
    assert "💬 WhatsApp · +" + number in panel.text and "pesan masuk" in panel.text

    early = await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/messages", data={"body": "Halo"}, headers=h
    )
    assert early.status_code == 409 and "Angkat" in early.text
    claim = await client.post(f"/api/v1/t/{chat_tenant.slug}/telephony/calls/{call_id}/claim", headers=h)
    assert claim.status_code == 200, claim.text

    empty = await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/messages", data={"body": "  "}, headers=h
    )
    assert empty.status_code == 422 and "kosong" in empty.text
    sent = await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/messages",
        data={"body": "Petugas 112 di sini. Di mana alamat Anda?"},
        headers=h,
    )
    assert sent.status_code == 200 and 'data-state="sent"' in sent.text
    (wa,) = providers.WA.received
    assert wa["to"] == number and wa["text"]["body"] == "Petugas 112 di sini. Di mana alamat Anda?"

    for status in ("delivered", "read", "sent"):  # the late "sent" must not hide "read"
        r = await post_wa(client, chat_tenant.slug, wa_status(wa["id"], status, number))
        assert r.status_code == 200 and r.json()["applied"] == 1, r.text
    replay = await post_wa(client, chat_tenant.slug, wa_status(wa["id"], "delivered", number))
    assert replay.status_code == 409
    async with db.tenant(chat_tenant.slug) as s:
        out = (
            await s.execute(select(Message).where(Message.call_id == call_id, Message.direction == "out"))
        ).scalar_one()
        assert (out.state, out.provider_id, out.sent_by) == ("read", wa["id"], op.id)
        call = (await s.execute(select(Call).where(Call.id == call_id))).scalar_one()
        assert call.operator_id == op.id and call.answered_at is not None
        clocks = (await s.execute(select(SlaClock.kind).where(SlaClock.call_id == call_id))).scalars().all()
        assert "answer" in clocks  # the answer clock runs for text conversations too
    page = await client.get(f"/t/{chat_tenant.slug}/conversations/{call_id}")
    assert "dibaca" in page.text and "Tolong, rumah saya kemasukan air" in page.text

    providers.WA.fail_next.append(500)
    failed = await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/messages", data={"body": "Tetap di tempat"}, headers=h
    )
    assert 'data-state="failed"' in failed.text and "GAGAL" in failed.text

    other = await user_factory(chat_tenant, "operator")
    h2 = await _as(client, chat_tenant, other)
    denied = await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/messages", data={"body": "x"}, headers=h2
    )
    assert denied.status_code == 403


async def test_deaf_mark_is_prominent_and_conversation_ends_like_a_call(
    client, db, chat_tenant, user_factory, providers
):
    number = "6281300000202"
    call_id = await _conversation(client, db, chat_tenant, number)
    op = await user_factory(chat_tenant, "operator")
    h = await _as(client, chat_tenant, op)
    await client.post(f"/api/v1/t/{chat_tenant.slug}/telephony/calls/{call_id}/claim", headers=h)
    marked = await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/deaf", data={"value": "1"}, headers=h
    )
    assert marked.status_code == 200 and "TULI / TUNA WICARA" in marked.text
    panel = await client.get(f"/t/{chat_tenant.slug}/telephony/panel")
    assert "🧏 TULI / TUNA WICARA" in panel.text and "Buka percakapan" in panel.text
    ended = await client.post(f"/t/{chat_tenant.slug}/conversations/{call_id}/end", headers=h)
    assert ended.status_code == 200 and "diakhiri" in ended.text and "chat-form" not in ended.text
    async with db.tenant(chat_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.id == call_id))).scalar_one()
        assert call.deaf_speech_impaired and call.telephony_state == "ended" and call.ended_at is not None
    # A new message after the end opens a NEW conversation (it rings again).
    await post_wa(client, chat_tenant.slug, wa_text(number, "Masih butuh bantuan"))
    async with db.tenant(chat_tenant.slug) as s:
        states = (
            (
                await s.execute(
                    select(Call.telephony_state).where(Call.caller_number == "+" + number).order_by(Call.id)
                )
            )
            .scalars()
            .all()
        )
    assert states == ["ended", "ringing"]


async def test_sms_reply_goes_through_the_gateway_and_its_report_updates_state(
    client, db, chat_tenant, user_factory, providers
):
    number = "+6281300000203"
    payload = {
        "message_id": "sms-9001",
        "from": number,
        "to": "112",
        "text": "tolong",
        "received_at": datetime.now(UTC).isoformat(),
    }
    call_id = (await post_sms(client, chat_tenant.slug, chat_tenant.secret, payload)).json()["call_id"]
    op = await user_factory(chat_tenant, "operator")
    h = await _as(client, chat_tenant, op)
    await client.post(f"/api/v1/t/{chat_tenant.slug}/telephony/calls/{call_id}/claim", headers=h)
    await client.post(
        f"/t/{chat_tenant.slug}/conversations/{call_id}/messages", data={"body": "Kami datang"}, headers=h
    )
    (sms,) = providers.SMS.received
    assert sms["to"] == "0" + number.removeprefix("+62") and sms["message"] == "Kami datang"
    r = await post_sms(
        client,
        chat_tenant.slug,
        chat_tenant.secret,
        {"message_id": sms["messageId"], "status": "delivered"},
        path="status",
    )
    assert r.status_code == 200 and r.json()["known"] is True
    async with db.tenant(chat_tenant.slug) as s:
        out = (
            await s.execute(select(Message).where(Message.call_id == call_id, Message.direction == "out"))
        ).scalar_one()
    assert out.state == "delivered"


async def test_channel_report_separates_voice_sms_whatsapp(client, db, chat_tenant, user_factory, providers):
    from tests.telephony.conftest import event, new_id, post_signed

    await post_signed(
        client, chat_tenant.slug, chat_tenant.secret, event("ringing", new_id("c"), caller="+6281300000299")
    )
    await _conversation(client, db, chat_tenant, "6281300000204")
    sup = await user_factory(chat_tenant, "supervisor")
    await _as(client, chat_tenant, sup)
    page = await client.get(f"/t/{chat_tenant.slug}/reports/channels")
    assert page.status_code == 200
    for ch in ("voice", "whatsapp", "sms"):
        assert f'data-channel="{ch}"' in page.text, ch
    op = await user_factory(chat_tenant, "operator")
    await _as(client, chat_tenant, op)
    assert (await client.get(f"/t/{chat_tenant.slug}/reports/channels")).status_code == 403


async def test_conversation_is_logged_with_outcome_incident_and_dispatch_like_a_call(
    client, db, chat_tenant, user_factory, providers
):
    from app.dispatch.models import Category, Opd

    call_id = await _conversation(client, db, chat_tenant, "6281300000205")
    op = await user_factory(chat_tenant, "operator")
    h = await _as(client, chat_tenant, op)
    await client.post(f"/api/v1/t/{chat_tenant.slug}/telephony/calls/{call_id}/claim", headers=h)
    api = f"/api/v1/t/{chat_tenant.slug}"
    logged = await client.patch(
        f"{api}/calls/{call_id}", json={"outcome": "emergency", "notes": "banjir"}, headers=h
    )
    assert logged.status_code == 200 and logged.json()["channel"] == "whatsapp", logged.text
    async with db.tenant(chat_tenant.slug) as s:
        fire = (await s.execute(select(Category.id).where(Category.code == "fire"))).scalar_one()
        damkar = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
    inc = await client.post(
        f"{api}/incidents",
        json={"category_id": fire, "call_id": call_id, "address": "Jl. Pahlawan 7"},
        headers=h,
    )
    assert inc.status_code == 201, inc.text
    disp = await client.post(
        f"{api}/incidents/{inc.json()['id']}/dispatches", json={"opd_ids": [damkar]}, headers=h
    )
    assert disp.status_code == 201, disp.text
    async with db.tenant(chat_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.id == call_id))).scalar_one()
    assert (call.outcome, call.incident_id) == ("emergency", inc.json()["id"])
