"""Each adapter against its local protocol peer, which validates what it receives."""

from __future__ import annotations

import json

import pytest

from app.channels import registry
from app.channels.base import Message
from tests.channels import peers

MSG = Message(
    text="Penugasan 112: Kebakaran, P1. Lokasi: Jl. Uji 1.",
    title="[P1] Kebakaran — penugasan #7",
    template="siaga112_penugasan",
    params=("Kebakaran", "P1 (darurat)", "Jl. Uji 1", "https://www.openstreetmap.org/?mlat=-0.79"),
    action_url="https://siaga.uji.id/t/kota/ack/7.abc.def",
    action_label="Terima",
    callback="ack:7:abcdef",
)


def wa(config=None):
    base = {
        "access_token": peers.WA_TOKEN,
        "phone_number_id": peers.WA_PHONE_ID,
        "template": "siaga112_penugasan",
    }
    return registry.adapter("whatsapp", {**base, **(config or {})})


async def test_whatsapp_template_message_is_accepted_with_buttons(channel_settings):
    result = await wa().send("0812-3456-7890", MSG)
    assert result.ok, result.error
    assert result.provider_id.startswith("wamid.")
    got = peers.WA.received[-1]
    assert got["to"] == "6281234567890" and got["type"] == "template"
    comps = got["template"]["components"]
    assert [p["text"] for p in comps[0]["parameters"]] == list(MSG.params)
    assert comps[1] == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "ack:7:abcdef"}],
    }
    assert comps[2]["sub_type"] == "url" and comps[2]["parameters"][0]["text"] == "t/kota/ack/7.abc.def"


async def test_whatsapp_wrong_token_is_rejected_not_retried(channel_settings):
    result = await wa({"access_token": "salah"}).send("081234567890", MSG)
    assert result.outcome == "rejected" and "401" in result.error
    assert peers.WA.rejected == ["Invalid OAuth access token."]


async def test_whatsapp_server_error_is_retryable(channel_settings):
    peers.WA.fail_next.append(503)
    result = await wa().send("081234567890", MSG)
    assert result.outcome == "retry"


async def test_whatsapp_bad_number_never_reaches_provider(channel_settings):
    result = await wa().send("12", MSG)
    assert result.outcome == "rejected" and not peers.WA.received


async def test_telegram_send_message_with_inline_terima_button(channel_settings):
    tg = registry.adapter("telegram", {"bot_token": peers.TG_TOKEN})
    result = await tg.send("-100123456", MSG)
    assert result.ok, result.error
    got = peers.TG.received[-1]
    assert got["method"] == "sendMessage" and got["chat_id"] == "-100123456"
    keyboard = got["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0] == {"text": "Terima", "callback_data": "ack:7:abcdef"}
    assert keyboard[1][0]["url"] == MSG.action_url
    assert result.provider_id == f"-100123456:{got['message_id']}"


async def test_telegram_unauthorized_and_rate_limited(channel_settings):
    bad = await registry.adapter("telegram", {"bot_token": "999:salah"}).send("123", MSG)
    assert bad.outcome == "rejected" and "Unauthorized" in bad.error
    peers.TG.fail_next.append(429)
    limited = await registry.adapter("telegram", {"bot_token": peers.TG_TOKEN}).send("123", MSG)
    assert limited.outcome == "retry" and limited.retry_after_s == 1


async def test_sms_gateway_zenziva_shape(channel_settings, provider_url):
    config = {
        "url": f"{provider_url}/reguler/api/sendsms/",
        "credentials": f"userkey={peers.SMS_USERKEY}\npasskey={peers.SMS_PASSKEY}",
    }
    result = await registry.adapter("sms", config).send("+62 812 3456 7890", MSG)
    assert result.ok, result.error
    got = peers.SMS.received[-1]
    assert got["to"] == "081234567890"
    assert got["message"].startswith("Penugasan 112") and MSG.action_url in got["message"]
    assert result.provider_id == got["messageId"]


async def test_sms_wrong_credentials_and_outage(channel_settings, provider_url):
    config = {"url": f"{provider_url}/reguler/api/sendsms/", "credentials": "userkey=x\npasskey=y"}
    bad = await registry.adapter("sms", config).send("081234567890", MSG)
    assert bad.outcome == "rejected" and "Passkey" in bad.error
    peers.SMS.fail_next.append(503)
    down = await registry.adapter(
        "sms", {**config, "credentials": f"userkey={peers.SMS_USERKEY}\npasskey={peers.SMS_PASSKEY}"}
    ).send("081234567890", MSG)
    assert down.outcome == "retry"


async def test_sms_gateway_on_a_private_address_is_refused_by_the_ssrf_guard(channel_settings, monkeypatch):
    monkeypatch.setattr(channel_settings, "outbound_allow_networks", "")
    for sneaky in ("https://0x7f.0.0.1/x", "https://2130706433/x", "https://[::ffff:127.0.0.1]/x"):
        refused = await registry.adapter("sms", {"url": sneaky, "credentials": "a=b"}).send(
            "081234567890", MSG
        )
        assert refused.outcome == "rejected" and "internal" in (refused.error or ""), sneaky
    result = await registry.adapter("sms", {"url": "http://127.0.0.1:9/x", "credentials": "a=b"}).send(
        "081234567890", MSG
    )
    assert result.outcome == "rejected" and "internal" in result.error


async def test_webpush_vapid_jwt_verified_and_payload_decrypted(channel_settings):
    sub = peers.PUSH.subscribe()
    result = await registry.adapter("webpush", {}).send(json.dumps(sub), MSG)
    assert result.ok, (result.error, peers.PUSH.rejected)
    got = peers.PUSH.received[-1]
    assert got["payload"] == {"title": MSG.title, "body": MSG.text, "url": MSG.action_url}
    assert got["urgency"] == "high"


async def test_webpush_gone_subscription_and_disallowed_host(channel_settings, monkeypatch):
    sub = peers.PUSH.subscribe()
    sub["endpoint"] = sub["endpoint"].replace("/push/s", "/push/tidak-ada")
    gone = await registry.adapter("webpush", {}).send(json.dumps(sub), MSG)
    assert gone.outcome == "rejected" and "410" in gone.error
    monkeypatch.setattr(channel_settings, "webpush_allowed_hosts", "fcm.googleapis.com")
    refused = await registry.adapter("webpush", {}).send(json.dumps(peers.PUSH.subscribe()), MSG)
    assert refused.outcome == "rejected" and "tidak termasuk" in refused.error


async def test_vapid_peer_refuses_a_forged_jwt(channel_settings):
    """The peer's own check must be able to fail: a JWT signed by another key is refused."""
    from py_vapid import Vapid02

    other = Vapid02()
    other.generate_keys()
    header = other.sign({"aud": peers.PUSH.base, "exp": 2_000_000_000, "sub": "mailto:a@b.id"})[
        "Authorization"
    ]
    forged = header.replace(
        header.split("k=")[1], __import__("app.channels.vapid", fromlist=["x"]).public_key(channel_settings)
    )
    assert peers.verify_vapid(forged, peers.PUSH.base) == "bad signature"


async def test_email_over_smtp_with_auth(channel_settings, smtp_peer):
    config = {
        "host": "127.0.0.1",
        "port": str(smtp_peer.port),
        "security": "none",
        "username": peers.SMTP_USER,
        "password": peers.SMTP_PASSWORD,
        "sender": "siaga112@uji.id",
    }
    result = await registry.adapter("email", config).send("kalakhar@bpbd.uji.id", MSG)
    assert result.ok, result.error
    rcpts, msg = smtp_peer.messages[-1]
    assert rcpts == ["kalakhar@bpbd.uji.id"] and msg["Subject"] == MSG.title
    assert MSG.action_url in msg.get_content()
    bad = await registry.adapter("email", {**config, "password": "salah"}).send("a@b.id", MSG)
    assert bad.outcome == "rejected" and "login" in bad.error, bad.error
    assert smtp_peer.auth_failures >= 1


@pytest.mark.parametrize(
    "channel,address", [("whatsapp", "abc"), ("telegram", "not a chat"), ("email", "x@"), ("sms", "123")]
)
def test_addresses_are_validated(channel, address):
    with pytest.raises(ValueError):
        registry.ADAPTERS[channel].normalise_address(address)


async def test_send_text_refuses_a_channel_the_regency_has_not_enabled(db, tenant_factory, channel_settings):
    """Text-to-112 replies and location links use the regency's channels: without an enabled SMS
    channel nothing is sent (never the adapter's default gateway without credentials)."""
    from app.channels import service

    tenant = await tenant_factory(prefix="noch")
    async with db.tenant(tenant.slug) as s:
        result = await service.send_text(s, tenant.slug, "sms", "+6281300000999", "Kami datang")
    assert result.outcome == "rejected" and "belum diaktifkan" in (result.error or "")
    assert peers.SMS.received == []
