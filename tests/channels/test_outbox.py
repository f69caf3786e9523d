"""Dispatch → outbox rows in the same transaction → arq worker → providers (local peers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from app import events
from app.calls.models import Incident
from app.channels import outbox, service
from app.channels.models import ChannelMessage
from app.dispatch.models import Category, Dispatch, Opd
from tests.channels import peers
from tests.channels.conftest import add_contact, configure, open_dispatch, run_worker


async def lose_redis(pool) -> None:
    """Every queued job gone (FLUSHDB), this run's claim on the Redis index kept."""
    from tests.conftest import REDIS_TOKEN

    await pool.flushdb()
    await pool.set("siaga112:test-claim", REDIS_TOKEN, ex=3600)


async def _messages(db, slug, *where):
    async with db.tenant(slug) as s:
        return list(
            (await s.execute(select(ChannelMessage).where(*where).order_by(ChannelMessage.id))).scalars()
        )


async def _set_location(db, slug, incident_id):
    async with db.tenant(slug) as s:
        await s.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(address="Jl. Sudirman 12", kelurahan="Kampung Jawa", lat=-0.7905, lon=100.6543)
        )
        await s.commit()


async def _push_user(db, slug, user_factory, opd_code="damkar"):
    from app.channels.service import save_push_subscription

    user = await user_factory(type("T", (), {"slug": slug})(), "opd_staff", opd_code)
    sub = peers.PUSH.subscribe()
    async with db.tenant(slug) as s:
        await save_push_subscription(s, user.id, user.opd_id, sub)
        await s.commit()
    return user


async def test_every_on_duty_contact_is_alerted_on_its_channel(
    db, tenant_factory, user_factory, arq_pool, channel_settings, provider_url, smtp_peer
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, smtp_peer.port)
    wa_id = await add_contact(db, t.slug, "damkar", [("whatsapp", "0812-1111-2222")], name="Regu A")
    tg_id = await add_contact(db, t.slug, "damkar", [("telegram", "-1001234")], name="Grup Damkar")
    today = str(datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta")).isoweekday())
    await add_contact(
        db,
        t.slug,
        "damkar",
        [("sms", "081233334444")],
        name="Libur",
        days="".join(d for d in "1234567" if d != today),
    )
    await add_contact(
        db, t.slug, "damkar", [("email", "kalakhar@uji.id")], role="escalation", name="Kalakhar"
    )
    await add_contact(db, t.slug, "bpbd", [("sms", "081255556666")], name="BPBD lain")
    await _push_user(db, t.slug, user_factory)

    _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
    rows = await _messages(db, t.slug)
    # Written with the dispatch (before any worker ran): one per on-duty contact + the push subscription.
    assert sorted((r.channel, r.status) for r in rows) == [
        ("telegram", "pending"),
        ("webpush", "pending"),
        ("whatsapp", "pending"),
    ]
    assert {r.contact_id for r in rows} == {wa_id, tg_id, None}

    await run_worker(arq_pool)
    rows = await _messages(db, t.slug)
    assert all(r.status == "sent" and r.provider_id for r in rows), [
        (r.channel, r.status, r.last_error) for r in rows
    ]
    wa = peers.WA.received[-1]
    assert wa["to"] == "6281211112222" and wa["template"]["name"] == "siaga112_penugasan"
    params = [p["text"] for p in wa["template"]["components"][0]["parameters"]]
    assert params[0] == "Kebakaran" or params[0]  # category name of 'fire'
    assert params[1].startswith("P1")
    tg = peers.TG.received[-1]
    assert f"#{dispatch_id}" in tg["text"] and tg["reply_markup"]["inline_keyboard"][0][0]["text"] == "Terima"
    push = peers.PUSH.received[-1]["payload"]
    assert push["url"].startswith(f"https://siaga.uji.id/t/{t.slug}/ack/")
    assert (not peers.SMS.received and not smtp_peer.messages) or all(
        "Kalakhar" not in str(m) for m in smtp_peer.messages
    )


async def test_message_carries_category_priority_address_map_and_ack_link(
    db, tenant_factory, arq_pool, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("sms",))
    await add_contact(db, t.slug, "damkar", [("sms", "081299990000")])
    incident_id, _ = await open_dispatch(db, t.slug, datetime.now(UTC))
    await _set_location(db, t.slug, incident_id)
    await run_worker(arq_pool)
    (sms,) = peers.SMS.received
    async with db.tenant(t.slug) as s:
        category = (await s.execute(select(Category.name).where(Category.code == "fire"))).scalar_one()
    text = sms["message"]
    assert category in text and "P1" in text and "Jl. Sudirman 12" in text
    assert "openstreetmap.org/?mlat=-0.790500&mlon=100.654300" in text
    assert f"https://siaga.uji.id/t/{t.slug}/ack/" in text


async def test_outbox_row_lives_and_dies_with_the_dispatch_transaction(
    db, tenant_factory, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("sms",))
    await add_contact(db, t.slug, "damkar", [("sms", "081299990001")])
    async with db.tenant(t.slug) as s:
        opd_id = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
        cat_id = (await s.execute(select(Category.id).where(Category.code == "fire"))).scalar_one()
        inc = Incident(category_id=cat_id, priority=1, status="open", description="batal")
        s.add(inc)
        await s.flush()
        d = Dispatch(incident_id=inc.id, opd_id=opd_id, status="sent", version=1)
        s.add(d)
        await s.flush()
        await events.emit(s, "dispatch.created", t, dispatch=d, incident=inc)
        inside = (await s.execute(select(func.count()).select_from(ChannelMessage))).scalar_one()
        await s.rollback()
    assert inside == 1
    assert await _messages(db, t.slug) == []


async def test_same_dispatch_event_twice_writes_one_row_per_contact_and_channel(
    db, tenant_factory, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("sms",))
    await add_contact(db, t.slug, "damkar", [("sms", "081299990002")])
    _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
    async with db.tenant(t.slug) as s:
        d = await s.get(Dispatch, dispatch_id)
        assert await outbox.queue_dispatch_alerts(s, t.slug, d) == []  # ON CONFLICT DO NOTHING
        await s.commit()
    assert len(await _messages(db, t.slug)) == 1


async def test_provider_refusal_falls_back_to_the_next_channel(
    db, tenant_factory, arq_pool, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("whatsapp", "sms"))
    async with db.tenant(t.slug) as s:  # a wrong WhatsApp token: every send is refused (401)
        await service.save_config(
            s,
            t.slug,
            "whatsapp",
            enabled=True,
            settings={"phone_number_id": peers.WA_PHONE_ID, "template": "siaga112_penugasan"},
            new_secrets={"access_token": "token-salah"},
        )
        await s.commit()
    await add_contact(db, t.slug, "damkar", [("whatsapp", "081277778888"), ("sms", "081277778888")])
    await open_dispatch(db, t.slug, datetime.now(UTC))
    await run_worker(arq_pool)
    wa, sms = await _messages(db, t.slug)
    assert (wa.channel, wa.status, wa.attempts) == ("whatsapp", "failed", 1)
    assert "401" in wa.last_error
    assert (sms.channel, sms.status, sms.step) == ("sms", "sent", 1)
    assert len(peers.SMS.received) == 1 and peers.WA.rejected


async def test_transient_errors_are_retried_with_backoff(
    db, tenant_factory, arq_pool, channel_settings, provider_url, monkeypatch
):
    monkeypatch.setattr(outbox, "BACKOFF_BASE_S", 0.2)
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("telegram",))
    await add_contact(db, t.slug, "damkar", [("telegram", "5550001")])
    peers.TG.fail_next.extend([502, 503])
    await open_dispatch(db, t.slug, datetime.now(UTC))
    await run_worker(arq_pool)
    (row,) = await _messages(db, t.slug)
    assert (row.status, row.attempts) == ("sent", 3)
    assert len([r for r in peers.TG.received if r["method"] == "sendMessage"]) == 1


async def test_worker_crash_mid_send_never_sends_twice_and_falls_back(
    db, tenant_factory, arq_pool, channel_settings, provider_url, monkeypatch
):
    """A worker claimed the WhatsApp row and died before recording the outcome: the request may
    have reached Meta, so the row becomes 'uncertain', WhatsApp is NOT retried, SMS takes over."""
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("whatsapp", "sms"))
    await add_contact(db, t.slug, "damkar", [("whatsapp", "081200001111"), ("sms", "081200001111")])
    await lose_redis(arq_pool)  # Redis lost too
    await open_dispatch(db, t.slug, datetime.now(UTC))
    await lose_redis(arq_pool)
    (row,) = await _messages(db, t.slug)
    async with db.tenant(t.slug) as s:  # what the dead worker committed before calling the provider
        assert await outbox._claim(s, row.id) is not None
        await s.commit()
    async with db.tenant(t.slug) as s:  # a duplicate job for the claimed row does nothing
        assert await outbox.send_one(s, t.slug, row.id) == "skipped"

    monkeypatch.setattr(outbox, "LEASE", timedelta(0))
    stats = await outbox.reconcile_tenant(db, t.slug)
    assert stats["abandoned"] == 1
    await run_worker(arq_pool)
    stats_again = await outbox.reconcile_tenant(db, t.slug)  # nothing left to do
    assert stats_again == {"queued": 0, "abandoned": 0}
    wa, sms = await _messages(db, t.slug)
    assert (wa.status, wa.attempts) == ("uncertain", 1)
    assert sms.status == "sent"
    assert peers.WA.received == [] and len(peers.SMS.received) == 1


async def test_flushed_redis_is_repaired_by_reconciliation(
    db, tenant_factory, arq_pool, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("sms",))
    await add_contact(db, t.slug, "damkar", [("sms", "081200002222")])
    await open_dispatch(db, t.slug, datetime.now(UTC))
    await lose_redis(arq_pool)
    assert (await outbox.reconcile_tenant(db, t.slug))["queued"] == 1
    await run_worker(arq_pool)
    (row,) = await _messages(db, t.slug)
    assert row.status == "sent" and len(peers.SMS.received) == 1


async def test_no_alert_after_the_dispatch_was_acknowledged(
    db, tenant_factory, arq_pool, channel_settings, provider_url
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, only=("sms",))
    await add_contact(db, t.slug, "damkar", [("sms", "081200003333")])
    _, dispatch_id = await open_dispatch(db, t.slug, datetime.now(UTC))
    async with db.tenant(t.slug) as s:
        await s.execute(update(Dispatch).where(Dispatch.id == dispatch_id).values(status="acknowledged"))
        await s.commit()
    await run_worker(arq_pool)
    (row,) = await _messages(db, t.slug)
    assert row.status == "cancelled" and peers.SMS.received == []
