"""One-tap acknowledgement (link, WhatsApp button, Telegram callback) and signed status webhooks."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from sqlalchemy import select

from app.audit.models import AuditLog
from app.channels import ack
from app.channels.adapters.whatsapp import signature
from app.channels.models import ChannelMessage
from app.dispatch.models import Dispatch
from app.sla.models import SlaClock
from tests.channels import peers
from tests.channels.conftest import add_contact, configure, open_dispatch, run_worker

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _alerted(db, tenant_factory, arq_pool, provider_url, channel, address, only=None):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=only or (channel,))
    await add_contact(db, t.slug, "damkar", [(channel, address)], name="Regu Piket A")
    _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
    await run_worker(arq_pool)
    async with db.tenant(t.slug) as s:
        row = (await s.execute(select(ChannelMessage))).scalar_one()
    assert row.status == "sent", row.last_error
    return t, dispatch_id, row


async def _state(db, slug, dispatch_id):
    async with db.tenant(slug) as s:
        d = await s.get(Dispatch, dispatch_id)
        clock = (
            await s.execute(
                select(SlaClock).where(SlaClock.dispatch_id == dispatch_id, SlaClock.kind == "acknowledge")
            )
        ).scalar_one()
        audit = list(
            (
                await s.execute(
                    select(AuditLog.action, AuditLog.actor_label).where(
                        AuditLog.entity == "dispatch", AuditLog.entity_id == str(dispatch_id)
                    )
                )
            ).all()
        )
        msg = (
            (await s.execute(select(ChannelMessage).where(ChannelMessage.dispatch_id == dispatch_id)))
            .scalars()
            .first()
        )
        return d, clock, audit, msg


def _ack_path(text: str, slug: str) -> str:
    m = re.search(rf"https://siaga\.uji\.id(/t/{slug}/ack/[\w.\-]+)", text)
    assert m, text
    return m.group(1)


async def test_ack_link_shows_dispatch_acknowledges_once_and_is_audited(
    db, tenant_factory, arq_pool, channel_settings, provider_url, client
):
    t, dispatch_id, _ = await _alerted(db, tenant_factory, arq_pool, provider_url, "sms", "081234500001")
    path = _ack_path(peers.SMS.received[-1]["message"], t.slug)

    page = await client.get(path)
    assert page.status_code == 200 and f"Penugasan #{dispatch_id}" in page.text
    assert 'id="ack-button"' in page.text
    token = CSRF_RE.search(page.text).group(1)
    done = await client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "Diterima atas nama Regu Piket A" in done.text

    d, clock, audit, msg = await _state(db, t.slug, dispatch_id)
    assert d.status == "acknowledged" and d.acknowledged_at is not None
    assert clock.stopped_at is not None and clock.met is True
    actions = [a for a, _ in audit]
    assert (
        "channels.ack_link_opened" in actions
        and "channels.acknowledged" in actions
        and "dispatch.acknowledged" in actions
    )
    assert any("Regu Piket A" in (label or "") for _, label in audit)
    assert msg.ack_used_at is not None and msg.ack_via == "tautan sms"

    again = await client.get(path)
    assert again.status_code == 410 and "sudah dipakai" in again.text and f"/t/{t.slug}/login" in again.text
    replay = await client.post(path, data={"csrf_token": token})
    assert replay.status_code == 410


async def test_expired_forged_and_foreign_ack_links(
    db, tenant_factory, arq_pool, channel_settings, provider_url, client
):
    t, dispatch_id, row = await _alerted(db, tenant_factory, arq_pool, provider_url, "sms", "081234500002")
    expired = ack.make_token(t.slug, row.id, dispatch_id, f"c{row.contact_id}", ttl_s=-5)
    r = await client.get(f"/t/{t.slug}/ack/{expired}")
    assert r.status_code == 410 and "kedaluwarsa" in r.text and f"/t/{t.slug}/login" in r.text

    good = _ack_path(peers.SMS.received[-1]["message"], t.slug).rsplit("/", 1)[1]
    mid, exp36, mac = good.split(".")
    later = ack._b36(int(exp36, 36) + 86400)
    assert (await client.get(f"/t/{t.slug}/ack/{mid}.{later}.{mac}")).status_code == 404  # expiry is signed
    other = await tenant_factory()
    assert (await client.get(f"/t/{other.slug}/ack/{good}")).status_code == 404  # bound to the tenant
    assert (await client.get(f"/t/{t.slug}/ack/rubbish")).status_code == 404
    d, *_ = await _state(db, t.slug, dispatch_id)
    assert d.status == "sent"


def _wa_body(value: dict) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA",
                    "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp", **value}}],
                }
            ],
        }
    ).encode()


async def _post_wa(client, slug, body: bytes, secret=peers.WA_APP_SECRET):
    return await client.post(
        f"/api/v1/t/{slug}/channels/whatsapp/webhook",
        content=body,
        headers={"content-type": "application/json", "X-Hub-Signature-256": signature(secret, body)},
    )


async def test_whatsapp_status_webhook_signed_forged_and_replayed(
    db, tenant_factory, arq_pool, channel_settings, provider_url, client
):
    t, dispatch_id, row = await _alerted(
        db, tenant_factory, arq_pool, provider_url, "whatsapp", "081234500003"
    )
    now = int(time.time())
    delivered = _wa_body(
        {
            "statuses": [
                {
                    "id": row.provider_id,
                    "status": "delivered",
                    "timestamp": str(now),
                    "recipient_id": "6281234500003",
                }
            ]
        }
    )

    forged = await _post_wa(client, t.slug, delivered, secret="bukan-rahasia")
    assert forged.status_code == 401
    unsigned = await client.post(f"/api/v1/t/{t.slug}/channels/whatsapp/webhook", content=delivered)
    assert unsigned.status_code == 401
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.delivered_at is None

    assert (await _post_wa(client, t.slug, delivered)).status_code == 200
    read = _wa_body(
        {
            "statuses": [
                {
                    "id": row.provider_id,
                    "status": "read",
                    "timestamp": str(now + 5),
                    "recipient_id": "6281234500003",
                }
            ]
        }
    )
    assert (await _post_wa(client, t.slug, read)).status_code == 200
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.status == "read" and msg.delivered_at is not None and msg.read_at is not None

    replay = await _post_wa(client, t.slug, delivered)
    assert replay.status_code == 409
    *_, after = await _state(db, t.slug, dispatch_id)
    assert after.status == "read"  # the replayed 'delivered' did not move it back

    verify = await client.get(
        f"/api/v1/t/{t.slug}/channels/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "verif-uji", "hub.challenge": "12345"},
    )
    assert verify.status_code == 200 and verify.text == "12345"
    wrong = await client.get(
        f"/api/v1/t/{t.slug}/channels/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "salah", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403


async def test_whatsapp_button_reply_acknowledges_only_for_the_recipient(
    db, tenant_factory, arq_pool, channel_settings, provider_url, client
):
    t, dispatch_id, row = await _alerted(
        db, tenant_factory, arq_pool, provider_url, "whatsapp", "081234500004"
    )
    comps = peers.WA.received[-1]["template"]["components"]
    payload = next(c for c in comps if c.get("sub_type") == "quick_reply")["parameters"][0]["payload"]

    def reply(sender, mid):
        return _wa_body(
            {
                "messages": [
                    {
                        "from": sender,
                        "id": mid,
                        "timestamp": str(int(time.time())),
                        "type": "button",
                        "context": {"from": "628000", "id": row.provider_id},
                        "button": {"payload": payload, "text": "Terima"},
                    }
                ]
            }
        )

    stranger = await _post_wa(client, t.slug, reply("6289999999999", "wamid.IN1"))
    assert stranger.status_code == 200 and stranger.json()["acknowledged"] == []
    d, *_ = await _state(db, t.slug, dispatch_id)
    assert d.status == "sent"

    ok = await _post_wa(client, t.slug, reply("6281234500004", "wamid.IN2"))
    assert ok.json()["acknowledged"] == [dispatch_id], (ok.json(), payload)
    d, clock, _audit, msg = await _state(db, t.slug, dispatch_id)
    assert d.status == "acknowledged" and clock.stopped_at is not None and msg.ack_via == "whatsapp-button"


async def test_telegram_callback_acknowledges_and_is_answered(
    db, tenant_factory, arq_pool, channel_settings, provider_url, client
):
    t, dispatch_id, _row = await _alerted(db, tenant_factory, arq_pool, provider_url, "telegram", "7770001")
    data = peers.TG.received[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    update = {
        "update_id": 9001,
        "callback_query": {
            "id": "cbq-1",
            "from": {"id": 7770001},
            "message": {"message_id": 1, "chat": {"id": 7770001}},
            "data": data,
        },
    }
    url = f"/api/v1/t/{t.slug}/channels/telegram/webhook"
    bad = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "salah"})
    assert bad.status_code == 401
    assert (await client.post(url, json=update)).status_code == 401
    ok = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "tg-rahasia-uji"})
    assert ok.status_code == 200 and ok.json()["acknowledged"] == [dispatch_id]
    answered = [r for r in peers.TG.received if r["method"] == "answerCallbackQuery"]
    assert answered[-1]["callback_query_id"] == "cbq-1" and "Diterima" in answered[-1]["text"]
    replay = await client.post(
        url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "tg-rahasia-uji"}
    )
    assert replay.status_code == 409
    d, *_ = await _state(db, t.slug, dispatch_id)
    assert d.status == "acknowledged"


async def test_sms_delivery_report_secret_checked_unknown_refused(
    db, tenant_factory, arq_pool, channel_settings, provider_url, client
):
    t, dispatch_id, row = await _alerted(db, tenant_factory, arq_pool, provider_url, "sms", "081234500009")
    assert row.provider_id
    url = f"/api/v1/t/{t.slug}/channels/sms/dlr"
    body = {"messageId": row.provider_id, "status": "DELIVERED", "to": "081234500009"}

    forged = await client.post(url, data=body, headers={"X-Dlr-Secret": "bukan-rahasia"})
    assert forged.status_code == 401
    assert (await client.post(url, data=body)).status_code == 401
    unknown = await client.post(
        url, data={**body, "messageId": "tidak-ada"}, headers={"X-Dlr-Secret": "dlr-rahasia-uji"}
    )
    assert unknown.status_code == 404
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.status == "sent" and msg.delivered_at is None

    ok = await client.post(url, data=body, params={"secret": "dlr-rahasia-uji"})
    assert ok.status_code == 200, ok.text
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.status == "delivered" and msg.delivered_at is not None
    replay = await client.post(url, data=body, headers={"X-Dlr-Secret": "dlr-rahasia-uji"})
    assert replay.status_code == 409

    failed = await client.post(
        url, json={**body, "status": "UNDELIVERED"}, headers={"X-Dlr-Secret": "dlr-rahasia-uji"}
    )
    assert failed.status_code == 200, failed.text
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.status == "failed" and "undelivered" in (msg.last_error or "")


async def test_webpush_shown_receipt_marks_delivered_and_is_signed(
    db, tenant_factory, user_factory, arq_pool, channel_settings, provider_url, client
):
    from tests.channels.test_outbox import _push_user

    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("webpush",))
    await _push_user(db, t.slug, user_factory)
    _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
    await run_worker(arq_pool)
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.channel == "webpush" and msg.status == "sent", msg.last_error
    receipt = peers.PUSH.received[-1]["payload"]["receipt"]
    m = re.search(r"https://siaga\.uji\.id(/api/v1/t/[\w-]+/channels/webpush/receipt/([\w.\-]+))", receipt)
    assert m, receipt
    path, token = m.group(1), m.group(2)

    forged = await client.post(path.replace(token, f"{msg.id}.AAAAAAAAAAAAAAAAAAAAAA"))
    assert forged.status_code == 403
    other = await client.post(path.replace(token, ack.make_receipt(t.slug, msg.id + 1000)))
    assert other.status_code == 404
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.status == "sent" and msg.delivered_at is None

    shown = await client.post(path)
    assert shown.status_code == 200, shown.text
    *_, msg = await _state(db, t.slug, dispatch_id)
    assert msg.status == "delivered" and msg.delivered_at is not None
    assert (await client.post(path)).status_code == 200  # the worker may report twice: idempotent
