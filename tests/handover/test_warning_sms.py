"""Step 1 of the graduated scale: the operator's warning SMS goes through the regency's own SMS
channel via the outbox (the local Zenziva-shaped peer checks the regency's credentials), is
audited, is sent once per call, and leaves the call itself untouched."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from app.audit.models import AuditLog
from app.calls import service as calls
from app.calls.models import Call, EventLog
from app.calls.schemas import CallCreate
from app.calls.service import Ctx
from app.channels.models import ChannelMessage
from app.core.principal import Principal
from tests.channels import peers
from tests.channels.conftest import configure, run_worker
from tests.conftest import csrf_of, login, tenant_of


async def _prank_call(db, slug: str, number: str) -> int:
    tenant = await tenant_of(db, slug)
    async with db.tenant(slug) as s:
        ctx = Ctx(s, tenant, Principal(kind="tenant", user_id=None, role="operator", name="uji"))
        call = await calls.create_call(ctx, CallCreate(caller_number=number, outcome="prank"))
        return call.id


async def _operator(client, tenant, user_factory) -> dict:
    user = await user_factory(tenant, "operator")
    client.cookies.clear()
    assert (await login(client, tenant.slug, user.email)).status_code == 303
    return {"x-csrf-token": await csrf_of(client, f"/t/{tenant.slug}/login"), "hx-request": "true"}


async def test_warning_sms_goes_once_through_the_regencys_sms_channel_and_is_audited(
    client,
    db,
    tenant_factory,
    user_factory,
    arq_pool,
    channel_settings,
    provider_url,
):
    tenant = await tenant_factory(prefix="warn")
    await configure(db, tenant.slug, provider_url, only=("sms",))
    number = "+62813" + str(uuid.uuid4().int)[:8]
    call_id = await _prank_call(db, tenant.slug, number)
    h = await _operator(client, tenant, user_factory)

    r = await client.post(f"/t/{tenant.slug}/calls/{call_id}/warning-sms", headers=h)
    assert r.status_code == 202, r.text
    assert "SMS peringatan diantrekan" in r.headers["hx-trigger"]
    again = await client.post(f"/t/{tenant.slug}/calls/{call_id}/warning-sms", headers=h)
    assert again.status_code == 409 and "sudah dikirim" in again.json()["detail"]

    await run_worker(arq_pool)
    (sms,) = peers.SMS.received  # one SMS, with the regency's userkey/passkey (checked by the peer)
    assert sms["to"] == "0" + number.removeprefix("+62")
    assert sms["message"].startswith("Peringatan dari Call Center 112 ")
    async with db.tenant(tenant.slug) as s:
        (row,) = (
            (
                await s.execute(
                    select(ChannelMessage).where(ChannelMessage.dedupe_key == f"warning:c{call_id}")
                )
            )
            .scalars()
            .all()
        )
        assert (row.kind, row.channel, row.status, row.provider_id) == (
            "text",
            "sms",
            "sent",
            sms["messageId"],
        )
        audit = (
            await s.execute(select(AuditLog).where(AuditLog.action == "reputation.warning_sms_queued"))
        ).scalar_one()
        assert audit.entity_id == str(call_id) and audit.after["message_id"] == row.id
        history = (
            (
                await s.execute(
                    select(EventLog.kind).where(EventLog.entity_id == call_id, EventLog.entity == "call")
                )
            )
            .scalars()
            .all()
        )
        assert "warning_sms_queued" in history
        call = (await s.execute(select(Call).where(Call.id == call_id))).scalar_one()
        assert call.outcome == "prank" and call.ended_at is None  # the call itself is untouched


async def test_warning_sms_without_an_sms_channel_or_number_is_refused_and_nothing_queued(
    client,
    db,
    tenant_factory,
    user_factory,
    channel_settings,
):
    tenant = await tenant_factory(prefix="warn")
    call_id = await _prank_call(db, tenant.slug, "+6281377712345")
    withheld = await _prank_call(db, tenant.slug, "+6281377754321")
    async with db.tenant(tenant.slug) as s:  # as the integrator stores a withheld number
        await s.execute(update(Call).where(Call.id == withheld).values(caller_number="PRIVATE"))
        await s.commit()
    h = await _operator(client, tenant, user_factory)
    r = await client.post(f"/t/{tenant.slug}/calls/{call_id}/warning-sms", headers=h)
    assert r.status_code == 422 and "Kanal SMS" in r.json()["detail"]
    r = await client.post(f"/t/{tenant.slug}/calls/{withheld}/warning-sms", headers=h)
    assert r.status_code == 422 and "Nomor penelepon" in r.json()["detail"]
    assert (await client.post(f"/t/{tenant.slug}/calls/999999/warning-sms", headers=h)).status_code == 404
    async with db.tenant(tenant.slug) as s:
        assert (await s.execute(select(ChannelMessage))).first() is None
        assert (
            await s.execute(select(AuditLog).where(AuditLog.action == "reputation.warning_sms_queued"))
        ).first() is None
