"""WhatsApp Business Cloud API: template messages out, signed status/button webhooks in.

Send: ``POST {WHATSAPP_API_BASE}/{phone_number_id}/messages`` with ``Authorization: Bearer
<access token>`` and a ``type: template`` body (body parameters in order, a quick-reply button
whose payload acknowledges, a URL button whose dynamic suffix is the acknowledgement link's path).
Without a template name the message goes as ``type: text`` (only inside WhatsApp's 24-hour window).
Webhooks: ``X-Hub-Signature-256: sha256=HMAC_SHA256(app_secret, raw body)``; ``statuses[]`` give
sent/delivered/read/failed for our ``wamid``, ``messages[]`` of type button/interactive carry the
button payload, type text is a message from a person (text-to-112).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from app.channels import addresses
from app.channels.base import Inbound, Message, SendResult, WebhookRejected
from app.channels.outbound import client
from app.config import Settings

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Graph API error codes that will not get better by retrying (auth, permissions, bad recipient).
_PERMANENT = {100, 131008, 131009, 131026, 131030, 131031, 131047, 132000, 132001, 133010}


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsAppAdapter:
    channel: ClassVar[str] = "whatsapp"
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token", "app_secret", "verify_token")
    plain_fields: ClassVar[tuple[str, ...]] = ("phone_number_id", "template", "language")

    def __init__(self, config: dict[str, Any], settings: Settings) -> None:
        self.config = config
        self.base = settings.whatsapp_api_base.rstrip("/")
        self.public_base = (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")

    @staticmethod
    def normalise_address(address: str) -> str:
        return addresses.phone_e164(address)

    def payload(self, address: str, message: Message) -> dict[str, Any]:
        to = self.normalise_address(address).lstrip("+")
        template = None if message.plain else (message.template or self.config.get("template"))
        if not template:
            return {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"body": message.text, "preview_url": False},
            }
        components: list[dict[str, Any]] = []
        if message.params:
            components.append(
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in message.params]}
            )
        index = 0
        if message.callback:
            components.append(
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(index),
                    "parameters": [{"type": "payload", "payload": message.callback}],
                }
            )
            index += 1
        if message.action_url and message.action_url.startswith(self.public_base + "/"):
            # The template's URL button is "<PUBLIC_BASE_URL>/{{1}}"; we fill in the path.
            suffix = message.action_url[len(self.public_base) + 1 :]
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": str(index),
                    "parameters": [{"type": "text", "text": suffix}],
                }
            )
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {
                "name": template,
                "language": {"code": message.language or self.config.get("language") or "id"},
                "components": components,
            },
        }

    async def send(self, address: str, message: Message) -> SendResult:
        token, number_id = self.config.get("access_token"), self.config.get("phone_number_id")
        if not token or not number_id:
            return SendResult("rejected", error="WhatsApp belum dikonfigurasi (token / phone number id)")
        try:
            body = self.payload(address, message)
        except ValueError as exc:
            return SendResult("rejected", error=str(exc))
        url = f"{self.base}/{number_id}/messages"
        try:
            resp = await client().post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return SendResult("retry", error=f"WhatsApp tidak terjangkau: {type(exc).__name__}")
        except httpx.HTTPError as exc:  # the request may have arrived
            return SendResult("unknown", error=f"WhatsApp: {type(exc).__name__}")
        return _result(resp)

    def verify(self, body: bytes, headers: Any) -> None:
        secret = self.config.get("app_secret")
        if not secret:
            raise WebhookRejected(404, "WhatsApp belum dikonfigurasi")
        given = headers.get(SIGNATURE_HEADER) or ""
        if not hmac.compare_digest(signature(secret, body), given):
            raise WebhookRejected(401, "tanda tangan X-Hub-Signature-256 tidak valid")

    def parse(self, body: bytes, headers: Any) -> list[Inbound]:
        """Verify the signature, then normalise every status and message in the notification."""
        self.verify(body, headers)
        try:
            doc = json.loads(body)
            entries = doc["entry"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(400, "badan webhook WhatsApp tidak dikenali") from exc
        items: list[Inbound] = []
        for entry in entries:
            for change in entry.get("changes", []):
                value = change.get("value") or {}
                for st in value.get("statuses", []):
                    errors = st.get("errors") or []
                    items.append(
                        Inbound(
                            "status",
                            self.channel,
                            provider_id=st.get("id"),
                            status=st.get("status"),
                            sender=st.get("recipient_id"),
                            at=_ts(st.get("timestamp")),
                            event_id=f"{st.get('id')}:{st.get('status')}",
                            error=(errors[0].get("title") if errors else None),
                            raw=st,
                        )
                    )
                for m in value.get("messages", []):
                    items.append(_message(m))
        return items


def _message(m: dict[str, Any]) -> Inbound:
    sender = str(m.get("from", ""))
    if not (sender.isdigit() and 6 <= len(sender) <= 15) or not m.get("id"):
        raise WebhookRejected(400, "messages[].from harus nomor WhatsApp (angka) dan messages[].id wajib")
    kind, text, callback = "message", None, None
    if m.get("type") == "button":
        kind, text, callback = "button", m["button"].get("text"), m["button"].get("payload")
    elif m.get("type") == "interactive":
        reply = m["interactive"].get("button_reply") or m["interactive"].get("list_reply") or {}
        kind, text, callback = "button", reply.get("title"), reply.get("id")
    elif m.get("type") == "text":
        text = (m.get("text") or {}).get("body")
    return Inbound(
        kind,  # type: ignore[arg-type]
        "whatsapp",
        provider_id=(m.get("context") or {}).get("id"),
        sender="+" + sender,
        text=text,
        callback=callback,
        at=_ts(m.get("timestamp")),
        event_id=m.get("id"),
        raw=m,
    )


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError):
        return None


def _result(resp: httpx.Response) -> SendResult:
    try:
        doc = resp.json()
    except ValueError:
        doc = {}
    if resp.status_code == 200 and doc.get("messages"):
        return SendResult("accepted", provider_id=doc["messages"][0].get("id"), http_status=200)
    err = doc.get("error") or {}
    text = f"WhatsApp HTTP {resp.status_code}: {err.get('message', resp.reason_phrase)}"[:300]
    if resp.status_code == 429 or resp.status_code >= 500 or err.get("code") in (4, 80007, 130429, 131048):
        return SendResult("retry", error=text, http_status=resp.status_code)
    if err.get("code") in _PERMANENT or resp.status_code in (400, 401, 403, 404):
        return SendResult("rejected", error=text, http_status=resp.status_code)
    return SendResult("retry", error=text, http_status=resp.status_code)
