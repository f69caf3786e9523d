"""Channel fixtures: the local provider peers (one uvicorn server + aiosmtpd), settings pointed
at them, a real arq worker, and helpers that configure a tenant's channels and contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.channels import service
from app.channels.models import ChannelContact
from app.dispatch.models import Opd
from app.sla import service as sla_service
from tests.channels import peers
from tests.servers import free_port, served
from tests.sla.conftest import arq_pool, open_dispatch, run_worker, set_policy  # noqa: F401


@pytest.fixture(scope="session")
def provider_url():
    with served(peers.provider_app()) as url:
        peers.PUSH.base = url
        yield url


@pytest.fixture(scope="session")
def smtp_peer():
    from aiosmtpd.controller import Controller

    handler = peers.SmtpPeer()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def channel_settings(settings, provider_url, monkeypatch):
    """The app's settings pointed at the local peers (providers' base URLs are settings)."""
    monkeypatch.setattr(settings, "whatsapp_api_base", f"{provider_url}/graph")
    monkeypatch.setattr(settings, "telegram_api_base", f"{provider_url}/tg")
    monkeypatch.setattr(settings, "webpush_allowed_hosts", "127.0.0.1")
    monkeypatch.setattr(settings, "public_base_url", "https://siaga.uji.id")
    # SLA timers minutes ahead would keep a burst worker waiting; these tests fire SLA by hand.
    monkeypatch.setattr(sla_service, "SCHEDULE_HORIZON", timedelta(0))
    for p in (peers.WA, peers.TG, peers.SMS, peers.PUSH):
        p.reset()
    service._cache.clear()
    yield settings
    service._cache.clear()


async def configure(db, slug: str, provider_url: str, smtp_port: int | None = None, only: tuple = ()) -> None:
    configs = {
        "whatsapp": (
            {"phone_number_id": peers.WA_PHONE_ID, "template": "siaga112_penugasan", "language": "id"},
            {"access_token": peers.WA_TOKEN, "app_secret": peers.WA_APP_SECRET, "verify_token": "verif-uji"},
        ),
        "telegram": ({}, {"bot_token": peers.TG_TOKEN, "webhook_secret": "tg-rahasia-uji"}),
        "sms": (
            {"url": f"{provider_url}/reguler/api/sendsms/"},
            {
                "credentials": f"userkey={peers.SMS_USERKEY}\npasskey={peers.SMS_PASSKEY}",
                "dlr_secret": "dlr-rahasia-uji",
            },
        ),
        "webpush": ({}, {}),
        "email": (
            {
                "host": "127.0.0.1",
                "port": str(smtp_port or 25),
                "security": "none",
                "username": peers.SMTP_USER,
                "sender": "siaga112@uji.id",
            },
            {"password": peers.SMTP_PASSWORD},
        ),
    }
    async with db.tenant(slug) as s:
        for channel, (plain, secret) in configs.items():
            if only and channel not in only:
                continue
            await service.save_config(s, slug, channel, enabled=True, settings=plain, new_secrets=secret)
        await s.commit()


async def add_contact(
    db, slug: str, opd_code: str | None, channels: list[tuple[str, str]], role: str = "duty", **kw
) -> int:
    async with db.tenant(slug) as s:
        opd_id = None
        if opd_code:
            opd_id = (await s.execute(select(Opd.id).where(Opd.code == opd_code))).scalar_one()
        c = ChannelContact(
            opd_id=opd_id,
            name=kw.pop("name", "Piket Uji"),
            role=role,
            channels=[{"channel": ch, "address": a} for ch, a in channels],
            days=kw.pop("days", "1234567"),
            is_active=True,
            **kw,
        )
        s.add(c)
        await s.commit()
        return c.id


@pytest.fixture
async def citizen_channels(db, channel_settings, provider_url):
    """``await citizen_channels(slug)``: the regency's WhatsApp and SMS channels configured on the
    local peers (text-to-112 replies and location links go through the same adapters as alerts)."""

    async def setup(slug: str) -> None:
        await configure(db, slug, provider_url, only=("whatsapp", "sms"))

    return setup
