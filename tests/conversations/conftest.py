"""Text-to-112 fixtures: a tenant with an integrator secret and its WhatsApp/SMS channels on the local
peers, signed posts to the ONE WhatsApp webhook."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid

import pytest

from app.calls.service import Ctx
from app.core.principal import Principal
from app.telephony import service
from app.telephony.signing import signed_headers
from tests.channels import peers
from tests.channels.conftest import (  # noqa: F401
    channel_settings,
    citizen_channels,
    provider_url,
)

WA_APP_SECRET = peers.WA_APP_SECRET  # the regency's channel configuration (tests/channels/conftest.py)
WA_VERIFY = "verif-uji"
WA_PHONE_ID = peers.WA_PHONE_ID


@pytest.fixture(scope="module")
async def chat_tenant(db, tenant_factory):
    tenant = await tenant_factory(prefix="chat")
    async with db.tenant(tenant.slug) as s:
        ctx = Ctx(
            session=s,
            tenant=tenant,
            actor=Principal(kind="tenant", user_id=None, role="admin", name="x"),
        )
        secret = await service.rotate_secret(ctx)
    return dataclasses.replace(tenant, secret=secret)


@pytest.fixture
async def wa_env(chat_tenant, citizen_channels):  # noqa: F811
    """The regency's WhatsApp (and SMS) channel configured in its channel settings, on the peers."""
    await citizen_channels(chat_tenant.slug)
    return peers


def wa_text(sender: str, body: str, msg_id: str | None = None, ts: int | None = None) -> dict:
    """Meta's documented payload for one inbound text message."""
    return _wa_value(
        {
            "contacts": [{"profile": {"name": "Warga"}, "wa_id": sender}],
            "messages": [
                {
                    "from": sender,
                    "id": msg_id or f"wamid.{uuid.uuid4().hex}",
                    "timestamp": str(ts or int(time.time())),
                    "type": "text",
                    "text": {"body": body},
                }
            ],
        }
    )


def wa_status(wamid: str, status: str, recipient: str) -> dict:
    st = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
    if status == "failed":
        st["errors"] = [{"code": 131047, "title": "Re-engagement message"}]
    return _wa_value({"statuses": [st]})


def _wa_value(value: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "62112", "phone_number_id": WA_PHONE_ID},
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


async def post_wa(client, slug: str, payload, secret: str = WA_APP_SECRET, signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sig = (
        signature
        if signature is not None
        else "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )
    headers = {"content-type": "application/json"}
    if sig:
        headers["X-Hub-Signature-256"] = sig
    return await client.post(f"/api/v1/t/{slug}/channels/whatsapp/webhook", content=body, headers=headers)


async def post_sms(
    client, slug: str, secret: str, payload, path: str = "inbound", headers: dict | None = None
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {"content-type": "application/json", **signed_headers(secret, body)}
    h.update(headers or {})
    return await client.post(f"/api/v1/t/{slug}/text112/sms/{path}", content=body, headers=h)
