"""Escalation contacts messaged at SLA warning/breach/level 2; admin pages for channels and
contacts (encrypted secrets shown once, 'uji kirim' status, errors beside fields); delivery log."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.channels.models import ChannelConfig, ChannelMessage
from tests.channels import peers
from tests.channels.conftest import add_contact, configure, open_dispatch, run_worker, set_policy
from tests.conftest import csrf_of, login
from tests.sla.conftest import fake_clock  # noqa: F401


async def _rows(db, slug):
    async with db.tenant(slug) as s:
        return list((await s.execute(select(ChannelMessage).order_by(ChannelMessage.id))).scalars())


async def test_breach_and_level2_message_the_escalation_contacts(
    db,
    tenant_factory,
    arq_pool,
    channel_settings,
    provider_url,
    smtp_peer,
    fake_clock,  # noqa: F811
):
    from app.sla.jobs import reconcile_tenant

    t = await tenant_factory()
    await configure(db, t.slug, provider_url, smtp_peer.port, only=("email", "telegram"))
    await set_policy(db, t.slug, priority=1, acknowledge_s=300, escalation_delay_s=300)
    await add_contact(
        db, t.slug, "damkar", [("email", "kalakhar@damkar.uji.id")], role="escalation", name="Kalakhar Damkar"
    )
    await add_contact(
        db, t.slug, None, [("telegram", "4440001")], role="escalation", name="Supervisor daerah"
    )
    before = len(smtp_peer.messages)
    t0 = fake_clock.now()
    _, dispatch_id = await open_dispatch(db, t.slug, t0 - timedelta(minutes=7))
    await run_worker(arq_pool)
    rows = [r for r in await _rows(db, t.slug) if r.kind.startswith("sla.")]
    assert [(r.kind, r.channel, r.status) for r in rows] == [("sla.breached", "email", "sent")]
    rcpts, msg = smtp_peer.messages[-1]
    assert rcpts == ["kalakhar@damkar.uji.id"] and msg["Subject"].startswith("SLA terlampaui")
    assert f"penugasan #{dispatch_id}" in msg["Subject"]

    fake_clock.advance(minutes=4)
    await reconcile_tenant(db, t)  # this tenant only: others' timers are not this test's
    await run_worker(arq_pool)
    rows = [r for r in await _rows(db, t.slug) if r.kind.startswith("sla.")]
    assert [(r.kind, r.status) for r in rows] == [("sla.breached", "sent"), ("sla.escalated", "sent")]
    assert len(smtp_peer.messages) == before + 2
    # Clocks without an OPD (answer, dispatch) would go to the regency's contacts; the
    # dispatch-clock here has one, so the supervisor's Telegram was not used.
    assert not [r for r in peers.TG.received if r.get("chat_id") == "4440001"]


async def test_warning_messages_the_escalation_contacts(
    db,
    tenant_factory,
    arq_pool,
    channel_settings,
    provider_url,
    fake_clock,  # noqa: F811
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("telegram",))
    await set_policy(db, t.slug, priority=1, acknowledge_s=300, warning_pct=80)
    await add_contact(db, t.slug, "damkar", [("telegram", "4440002")], role="escalation")
    await open_dispatch(db, t.slug, fake_clock.now() - timedelta(seconds=250))
    await run_worker(arq_pool)
    (row,) = [r for r in await _rows(db, t.slug) if r.kind.startswith("sla.")]
    assert (row.kind, row.status) == ("sla.warning", "sent")
    sent = [r for r in peers.TG.received if r.get("chat_id") == "4440002"]
    assert len(sent) == 1 and sent[0]["text"].startswith("Peringatan SLA")


async def _admin(client, tenant, user_factory):
    user = await user_factory(tenant, "admin")
    assert (await login(client, tenant.slug, user.email)).status_code == 303
    return await csrf_of(client, f"/t/{tenant.slug}/admin/channels")


async def test_admin_saves_encrypted_secret_shown_once_and_tests_send(
    db, tenant_factory, user_factory, client, channel_settings, provider_url
):
    t = await tenant_factory()
    csrf = await _admin(client, t, user_factory)
    base = f"/t/{t.slug}/admin/channels"
    r = await client.post(
        f"{base}/telegram",
        data={
            "csrf_token": csrf,
            "enabled": "on",
            "bot_token": peers.TG_TOKEN,
            "webhook_secret": "rahasia-webhook-tg",
        },
    )
    assert r.status_code == 303
    async with db.tenant(t.slug) as s:
        row = (await s.execute(select(ChannelConfig).where(ChannelConfig.channel == "telegram"))).scalar_one()
    assert peers.TG_TOKEN not in (row.secrets_enc or "") and row.secrets_enc.startswith("gAAAA")  # Fernet
    page = await client.get(base)
    assert page.status_code == 200 and peers.TG_TOKEN not in page.text and "tersimpan" in page.text

    ok = await client.post(f"{base}/telegram/test", data={"csrf_token": csrf, "address": "123456"})
    assert ok.status_code == 200 and 'id="test-result"' in ok.text and "terkirim" in ok.text
    assert peers.TG.received[-1]["chat_id"] == "123456"

    # Saving again with an empty secret keeps it; a wrong token makes the test fail clearly.
    await client.post(
        f"{base}/telegram", data={"csrf_token": csrf, "enabled": "on", "bot_token": "999:salah"}
    )
    bad = await client.post(f"{base}/telegram/test", data={"csrf_token": csrf, "address": "123456"})
    assert bad.status_code == 200 and "gagal" in bad.text and "Unauthorized" in bad.text


async def test_unreachable_provider_and_bad_input_are_clear_never_500(
    db, tenant_factory, user_factory, client, channel_settings, provider_url
):
    t = await tenant_factory()
    csrf = await _admin(client, t, user_factory)
    base = f"/t/{t.slug}/admin/channels"
    from tests.servers import free_port

    dead = f"http://127.0.0.1:{free_port()}/sendsms"
    r = await client.post(
        f"{base}/sms",
        data={"csrf_token": csrf, "enabled": "on", "url": dead, "credentials": "userkey=a\npasskey=b"},
    )
    assert r.status_code == 303
    test = await client.post(f"{base}/sms/test", data={"csrf_token": csrf, "address": "081234567890"})
    assert test.status_code == 200 and "tidak terjangkau" in test.text
    bad_addr = await client.post(f"{base}/sms/test", data={"csrf_token": csrf, "address": "12"})
    assert bad_addr.status_code == 422 and "nomor telepon" in bad_addr.text
    bad_cred = await client.post(
        f"{base}/sms",
        data={"csrf_token": csrf, "enabled": "on", "url": dead, "credentials": "tanpa-sama-dengan"},
    )
    assert bad_cred.status_code == 422 and "nama=nilai" in bad_cred.text
    # The metadata address is refused even with loopback allowed (OUTBOUND_ALLOW_NETWORKS in tests).
    ssrf = await client.post(f"{base}/sms", data={"csrf_token": csrf, "url": "http://169.254.169.254/latest"})
    assert ssrf.status_code == 422 and "internal" in ssrf.text


async def test_contacts_form_validates_and_lists(db, tenant_factory, user_factory, client, channel_settings):
    t = await tenant_factory()
    csrf = await _admin(client, t, user_factory)
    url = f"/t/{t.slug}/admin/channels/contacts"
    bad = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "Regu B",
            "role": "duty",
            "channel_0": "whatsapp",
            "address_0": "abc",
            "days": ["1", "2"],
        },
    )
    assert bad.status_code == 422 and "nomor telepon" in bad.text
    shift = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "Regu B",
            "role": "duty",
            "channel_0": "whatsapp",
            "address_0": "0812 3456 7890",
            "days": ["1"],
            "start_time": "22:00",
        },
    )
    assert shift.status_code == 422 and "jam selesai" in shift.text
    ok = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "Regu B",
            "role": "duty",
            "channel_0": "whatsapp",
            "address_0": "0812 3456 7890",
            "channel_1": "sms",
            "address_1": "0812 3456 7890",
            "days": ["1", "2", "3"],
            "start_time": "22:00",
            "end_time": "06:00",
        },
    )
    assert ok.status_code == 303
    page = await client.get(url)
    assert "+6281234567890" in page.text and "22:00–06:00" in page.text


def test_duty_schedule_windows():
    from datetime import UTC, datetime, time

    from app.channels.models import ChannelContact
    from app.channels.service import on_duty

    night = ChannelContact(days="1234567", start_time=time(22), end_time=time(6))
    at = lambda h: datetime(2026, 12, 7, h, 0, tzinfo=UTC) - timedelta(hours=7)  # noqa: E731 - local WIB hour h
    assert on_duty(night, at(23), "Asia/Jakarta") and on_duty(night, at(5), "Asia/Jakarta")
    assert not on_duty(night, at(12), "Asia/Jakarta")
    weekdays = ChannelContact(days="12345", start_time=None, end_time=None)
    assert on_duty(weekdays, at(12), "Asia/Jakarta")  # 7 Dec 2026 is a Monday
    assert not on_duty(weekdays, at(12) - timedelta(days=1), "Asia/Jakarta")


async def test_delivery_log_for_supervisors_only(
    db, tenant_factory, user_factory, arq_pool, client, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("sms",))
    await add_contact(db, t.slug, "damkar", [("sms", "081234500009")], name="Regu Log")
    from datetime import UTC, datetime

    _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
    await run_worker(arq_pool)
    op = await user_factory(t, "operator")
    await login(client, t.slug, op.email)
    assert (await client.get(f"/t/{t.slug}/channels/log")).status_code == 403
    sup = await user_factory(t, "supervisor")
    await login(client, t.slug, sup.email)
    page = await client.get(f"/t/{t.slug}/channels/log")
    assert page.status_code == 200 and "Regu Log" in page.text and re.search(r'data-status="sent"', page.text)
    assert "terkirim ke penyedia" in page.text  # no delivery report came: accepted, not delivered
    async with db.tenant(t.slug) as s:
        from app.sla.models import SlaClock

        clock_id = (
            await s.execute(
                select(SlaClock.id).where(SlaClock.dispatch_id == dispatch_id, SlaClock.kind == "acknowledge")
            )
        ).scalar_one()
    detail = await client.get(f"/t/{t.slug}/sla/clocks/{clock_id}")
    assert detail.status_code == 200 and "Siapa yang diberi tahu" in detail.text and "Regu Log" in detail.text
    report = await client.get(f"/t/{t.slug}/sla")
    assert 'id="delivery-log-link"' in report.text
