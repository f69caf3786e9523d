"""THE seam for text sent to a citizen (the location link; chat replies use it too).

Issue 22 builds the platform's outbound channel adapters (WhatsApp Cloud API, SMS gateway, …);
they were not committed when this was written, so ``send_text`` talks to the providers' documented
HTTP APIs directly, in one function per provider. On merge, replace the bodies of ``_whatsapp`` and
``_sms`` with calls to those adapters; callers only see ``send_text`` and ``SendResult``.

- WhatsApp Business Cloud API: ``POST {WHATSAPP_API_BASE}/{WHATSAPP_PHONE_NUMBER_ID}/messages``,
  ``Authorization: Bearer {WHATSAPP_ACCESS_TOKEN}``, body
  ``{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "<digits>",
  "type": "text", "text": {"preview_url": true, "body": "..."}}``; the answer carries
  ``messages[0].id`` (the wamid used by later status webhooks).
- SMS integrator: ``POST {SMS_GATEWAY_URL}`` with ``{"to": "+62…", "text": "...", "client_ref": "..."}``
  signed like the integrator's own webhooks (``X-Siaga112-Timestamp`` / ``X-Siaga112-Signature``,
  HMAC-SHA256 with ``SMS_GATEWAY_SECRET``); the answer carries ``message_id``.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass

import httpx

from app.telephony.signing import signed_headers

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str | None = None
    error: str = ""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


async def send_text(tenant: str, channel: str, to: str, text: str) -> SendResult:
    """Send ``text`` to the E.164 number ``to`` over ``channel`` ("sms" | "whatsapp"); never raises."""
    try:
        if channel == "whatsapp":
            return await _whatsapp(to, text)
        if channel == "sms":
            return await _sms(tenant, to, text)
        return SendResult(False, error=f"saluran tidak dikenal: {channel}")
    except httpx.HTTPError as exc:
        log.warning("send over %s to %s failed: %s", channel, to[-4:], exc)
        return SendResult(False, error=f"penyedia tidak terjangkau ({type(exc).__name__})")


async def _whatsapp(to: str, text: str) -> SendResult:
    base = _env("WHATSAPP_API_BASE", "https://graph.facebook.com/v19.0")
    phone_id, token = _env("WHATSAPP_PHONE_NUMBER_ID"), _env("WHATSAPP_ACCESS_TOKEN")
    if not phone_id or not token:
        return SendResult(False, error="WhatsApp belum dikonfigurasi (WHATSAPP_PHONE_NUMBER_ID/ACCESS_TOKEN)")
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.lstrip("+"),
        "type": "text",
        "text": {"preview_url": True, "body": text},
    }
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        resp = await client.post(
            f"{base.rstrip('/')}/{phone_id}/messages",
            json=payload,
            headers={"authorization": f"Bearer {token}"},
        )
    if resp.status_code != 200:
        return SendResult(False, error=f"WhatsApp menolak ({resp.status_code}): {resp.text[:200]}")
    return SendResult(True, provider_id=resp.json()["messages"][0]["id"])


async def _sms(tenant: str, to: str, text: str) -> SendResult:
    url, secret = _env("SMS_GATEWAY_URL"), _env("SMS_GATEWAY_SECRET")
    if not url or not secret:
        return SendResult(False, error="Gateway SMS belum dikonfigurasi (SMS_GATEWAY_URL/SECRET)")
    body = json.dumps({"to": to, "text": text, "client_ref": f"{tenant}:{uuid.uuid4().hex}"}).encode()
    headers = {"content-type": "application/json", **signed_headers(secret, body)}
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        resp = await client.post(url, content=body, headers=headers)
    if resp.status_code not in (200, 201, 202):
        return SendResult(False, error=f"Gateway SMS menolak ({resp.status_code}): {resp.text[:200]}")
    return SendResult(True, provider_id=str(resp.json().get("message_id") or ""))
