"""Inbound text-to-112: signed webhooks or nothing stored; a message rings on the console as a call."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.calls.models import Call
from app.conversations.models import Message
from tests.conversations.conftest import WA_VERIFY, post_sms, post_wa, wa_text


async def _counts(db, tenant, number: str) -> tuple[int, int]:
    async with db.tenant(tenant.slug) as s:
        calls = (
            await s.execute(select(func.count()).select_from(Call).where(Call.caller_number == number))
        ).scalar()
        msgs = (
            await s.execute(
                select(func.count())
                .select_from(Message)
                .join(Call, Call.id == Message.call_id)
                .where(Call.caller_number == number)
            )
        ).scalar()
    return calls, msgs


async def test_whatsapp_verify_challenge(client, chat_tenant, wa_env):
    url = f"/api/v1/t/{chat_tenant.slug}/channels/whatsapp/webhook"
    ok = await client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    assert bad.status_code == 403


async def test_unsigned_or_malformed_whatsapp_is_refused_and_nothing_stored(client, db, chat_tenant, wa_env):
    number = "6281300000101"
    payload = wa_text(number, "tolong kebakaran")
    assert (await post_wa(client, chat_tenant.slug, payload, signature="")).status_code == 401
    assert (await post_wa(client, chat_tenant.slug, payload, secret="wrong")).status_code == 401
    assert (
        await post_wa(client, chat_tenant.slug, payload, signature="sha256=" + "0" * 64)
    ).status_code == 401
    broken = await post_wa(client, chat_tenant.slug, b'{"object": "whatsapp_business_account", "entry": [')
    assert broken.status_code == 400
    wrong_shape = wa_text(number, "x")
    wrong_shape["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = "not-a-number"
    r = await post_wa(client, chat_tenant.slug, wrong_shape)
    assert r.status_code == 400 and "from" in r.text
    assert await _counts(db, chat_tenant, "+" + number) == (0, 0)


async def test_whatsapp_message_rings_as_a_call_and_continues_one_conversation(
    client, db, chat_tenant, wa_env
):
    number = "6281300000102"
    first = wa_text(number, "Tolong, ada banjir di rumah saya", msg_id="wamid.first-102")
    r = await post_wa(client, chat_tenant.slug, first)
    assert r.status_code == 200 and r.json()["applied"] == 1, r.text
    again = await post_wa(client, chat_tenant.slug, first)  # a redelivery / replay changes nothing
    assert again.status_code == 409
    assert await _counts(db, chat_tenant, "+" + number) == (1, 1)
    await post_wa(client, chat_tenant.slug, wa_text(number, "Saya tidak bisa bicara"))
    assert await _counts(db, chat_tenant, "+" + number) == (1, 2)
    async with db.tenant(chat_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.caller_number == "+" + number))).scalar_one()
    assert (call.channel, call.telephony_state, call.operator_id) == ("whatsapp", "ringing", None)


async def test_sms_inbound_signed_like_the_telephony_webhook(client, db, chat_tenant):
    number = "+6281300000103"
    payload = {
        "message_id": "sms-77812",
        "from": "0813-0000-0103",
        "to": "112",
        "text": "Ada kecelakaan di Jl. Sudirman",
        "received_at": datetime.now(UTC).isoformat(),
    }
    unsigned = await client.post(f"/api/v1/t/{chat_tenant.slug}/text112/sms/inbound", json=payload)
    assert unsigned.status_code == 401
    assert (await post_sms(client, chat_tenant.slug, "not-the-secret", payload)).status_code == 401
    bad = await post_sms(client, chat_tenant.slug, chat_tenant.secret, {**payload, "text": ""})
    assert bad.status_code == 422
    extra = await post_sms(client, chat_tenant.slug, chat_tenant.secret, {**payload, "evil": 1})
    assert extra.status_code == 422
    assert await _counts(db, chat_tenant, number) == (0, 0)
    ok = await post_sms(client, chat_tenant.slug, chat_tenant.secret, payload)
    assert ok.status_code == 200 and ok.json()["duplicate"] is False, ok.text
    dup = await post_sms(client, chat_tenant.slug, chat_tenant.secret, payload)
    assert dup.json()["duplicate"] is True
    assert await _counts(db, chat_tenant, number) == (1, 1)
    async with db.tenant(chat_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.caller_number == number))).scalar_one()
    assert (call.channel, call.telephony_state) == ("sms", "ringing")


async def test_one_whatsapp_webhook_routes_alert_statuses_and_citizen_messages(
    client, db, chat_tenant, wa_env
):
    """One signed body from Meta with an alert's status and a citizen's message: the alert's
    delivery log moves, and the message opens a conversation (both behind ONE signature check)."""
    from app.channels.models import ChannelMessage

    async with db.tenant(chat_tenant.slug) as s:
        alert = ChannelMessage(
            dedupe_key=f"dispatch:uji:{chat_tenant.slug}",
            kind="text",
            recipient="Piket uji",
            channel="whatsapp",
            address="+6281300000109",
            step=0,
            status="sent",
            attempts=1,
            provider_id="wamid.alert-109",
            body={"text": "x"},
        )
        s.add(alert)
        await s.commit()
    number = "6281300000110"
    payload = wa_text(number, "Ada pohon tumbang menutup jalan")
    value = payload["entry"][0]["changes"][0]["value"]
    value["statuses"] = [
        {
            "id": "wamid.alert-109",
            "status": "delivered",
            "timestamp": "1764752102",
            "recipient_id": "6281300000109",
        }
    ]
    forged = await post_wa(client, chat_tenant.slug, payload, secret="not-the-app-secret")
    assert forged.status_code == 401
    assert await _counts(db, chat_tenant, "+" + number) == (0, 0)
    r = await post_wa(client, chat_tenant.slug, payload)
    assert r.status_code == 200 and r.json()["applied"] == 2, r.text
    async with db.tenant(chat_tenant.slug) as s:
        row = (await s.execute(select(ChannelMessage).where(ChannelMessage.id == alert.id))).scalar_one()
        assert row.status == "delivered" and row.delivered_at is not None
    assert await _counts(db, chat_tenant, "+" + number) == (1, 1)


async def test_a_whatsapp_location_message_places_the_call_on_the_map(client, db, chat_tenant, wa_env):
    """Meta's ``type: location`` message is a position of the conversation's call (it used to be
    shown only as text): stored as a fix with an assumed 100 m accuracy, chosen for the call,
    once per message."""
    from app.location.models import LinkFix

    number = "6281300000104"
    assert (
        await post_wa(client, chat_tenant.slug, wa_text(number, "Tolong, motor terbakar"))
    ).status_code == 200
    shared = wa_text(number, "", msg_id="wamid.loc-104")
    m = shared["entry"][0]["changes"][0]["value"]["messages"][0]
    m.pop("text")
    m.update(
        type="location", location={"latitude": -0.7893, "longitude": 100.6543, "name": "Pasar Raya Solok"}
    )
    r = await post_wa(client, chat_tenant.slug, shared)
    assert r.status_code == 200, r.text
    assert (await post_wa(client, chat_tenant.slug, shared)).status_code == 409  # redelivered: nothing new
    async with db.tenant(chat_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.caller_number == "+" + number))).scalar_one()
        fixes = (await s.execute(select(LinkFix).where(LinkFix.call_id == call.id))).scalars().all()
        bodies = (await s.execute(select(Message.body).where(Message.call_id == call.id))).scalars().all()
    assert [(f.source, f.lat, f.lon, f.accuracy_m, f.link_id) for f in fixes] == [
        ("whatsapp", -0.7893, 100.6543, 100.0, None)
    ]
    assert (call.location_source, call.location_lat, call.location_lon) == ("whatsapp", -0.7893, 100.6543)
    assert any(b.startswith("[lokasi dibagikan]") for b in bodies)


def test_only_a_location_message_with_numbers_is_a_position():
    from app.conversations.handlers import shared_location

    assert shared_location({"type": "location", "location": {"latitude": -0.8, "longitude": 100.6}}) == (
        -0.8,
        100.6,
    )
    assert shared_location({"type": "location", "location": {"latitude": "x", "longitude": 100.6}}) is None
    assert shared_location({"type": "location", "location": {"latitude": True, "longitude": 1}}) is None
    assert shared_location({"type": "text", "location": {"latitude": -0.8, "longitude": 100.6}}) is None


async def test_a_shared_location_needs_no_second_look_at_the_registry(client, db, chat_tenant, wa_env):
    """The event carries the tenant (its region code for the area check): a location message
    reads ``public.tenants`` exactly as often as a text message does (it used to add a query)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    def registry_reads() -> int:
        return sum("public.tenants" in s for s in statements)

    number = "6281300000105"
    first = wa_text(number, "Banjir di Tanah Garam", msg_id="wamid.txt-105a")
    assert (await post_wa(client, chat_tenant.slug, first)).status_code == 200  # the call, warm caches
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        again = wa_text(number, "Airnya naik terus", msg_id="wamid.txt-105b")
        assert (await post_wa(client, chat_tenant.slug, again)).status_code == 200
        text_reads, statements[:] = registry_reads(), []
        shared = wa_text(number, "", msg_id="wamid.loc-105")
        m = shared["entry"][0]["changes"][0]["value"]["messages"][0]
        m.pop("text")
        m.update(type="location", location={"latitude": -0.7893, "longitude": 100.6543})
        assert (await post_wa(client, chat_tenant.slug, shared)).status_code == 200
        location_reads = registry_reads()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    async with db.tenant(chat_tenant.slug) as s:
        call = (await s.execute(select(Call).where(Call.caller_number == "+" + number))).scalar_one()
    assert call.location_source == "whatsapp"  # the area check had its region code
    assert location_reads == text_reads
