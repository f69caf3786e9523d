"""A generic HTTP SMS gateway, configured per regency; defaults follow Zenziva's "reguler" API.

Request: ``POST <url>`` as a form (or JSON) with the recipient in ``to_field`` (format ``national``
0812…, ``msisdn`` 62812… or ``e164`` +62812…), the text in ``text_field``, plus the credential
fields the admin entered as ``name=value`` lines (stored encrypted), e.g. ``userkey=…`` and
``passkey=…``. Response: JSON; success when ``status_field`` equals one of ``success_values``;
the provider's message id is ``id_field``; the error text is ``error_field``. Zenziva's documented
answer is ``{"messageId": "…", "to": "0812…", "status": "1", "text": "Success"}``.

Delivery reports (DLR): the gateway calls ``POST /api/v1/t/<slug>/channels/sms/dlr`` with the
shared ``dlr_secret`` (entered by the admin, stored encrypted) in the ``X-Dlr-Secret`` header
or ``secret`` query parameter, as a form or JSON body ``{"messageId": "…", "status":
"DELIVERED" | "FAILED" | "UNDELIVERED" | "EXPIRED" | "REJECTED", "to": "0812…"}``
(field names ``dlr_id_field`` / ``dlr_status_field``).
The gateway URL comes from an admin, so it passes the shared SSRF check (``outbound.check_url``)
and the request goes to the checked address (``app.security.outbound.send``).
"""

from __future__ import annotations

import hmac
import json
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

import httpx

from app.channels import addresses
from app.channels.base import Inbound, Message, SendResult, WebhookRejected
from app.channels.outbound import UnsafeUrl, check_url
from app.config import Settings
from app.security import outbound as safe

DEFAULTS = {
    "url": "https://console.zenziva.net/reguler/api/sendsms/",
    "format": "form",
    "to_field": "to",
    "to_format": "national",
    "text_field": "message",
    "status_field": "status",
    "success_values": "1",
    "id_field": "messageId",
    "error_field": "text",
    "dlr_id_field": "messageId",
    "dlr_status_field": "status",
}
DLR_DELIVERED = {"delivered", "deliv", "delivrd", "success", "1"}
DLR_FAILED = {"failed", "undelivered", "undeliv", "expired", "rejected", "error", "0"}
MAX_LEN = 459  # 3 concatenated GSM-7 parts


def format_number(e164: str, how: str) -> str:
    if how == "national":
        return "0" + e164[3:] if e164.startswith("+62") else e164
    if how == "msisdn":
        return e164.lstrip("+")
    return e164


def parse_credentials(text: str) -> dict[str, str]:
    """'userkey=abc\\npasskey=xyz' → {'userkey': 'abc', 'passkey': 'xyz'}; ValueError on a bad line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError("tulis kredensial sebagai nama=nilai, satu per baris")
        out[name.strip()] = value.strip()
    return out


class SmsGatewayAdapter:
    channel: ClassVar[str] = "sms"
    secret_fields: ClassVar[tuple[str, ...]] = ("credentials", "dlr_secret")
    plain_fields: ClassVar[tuple[str, ...]] = tuple(DEFAULTS)

    def __init__(self, config: dict[str, Any], settings: Settings) -> None:
        self.config = {**DEFAULTS, **{k: v for k, v in config.items() if v not in (None, "")}}

    @staticmethod
    def normalise_address(address: str) -> str:
        return addresses.phone_e164(address)

    def body(self, address: str, message: Message) -> dict[str, str]:
        c = self.config
        text = message.text if not message.action_url else f"{message.text} {message.action_url}"
        fields = parse_credentials(c.get("credentials") or "")
        fields[c["to_field"]] = format_number(self.normalise_address(address), c["to_format"])
        fields[c["text_field"]] = text[:MAX_LEN]
        return fields

    async def send(self, address: str, message: Message) -> SendResult:
        try:
            target = await check_url(self.config["url"])
            fields = self.body(address, message)
        except (UnsafeUrl, ValueError) as exc:
            return SendResult("rejected", error=f"SMS: {exc}")
        if self.config["format"] == "json":
            content, ctype = json.dumps(fields).encode(), "application/json"
        else:
            content, ctype = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        try:  # to the address that was checked (no second DNS lookup), never following redirects
            resp = await safe.send(target, "POST", content=content, headers={"content-type": ctype})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return SendResult("retry", error=f"gateway SMS tidak terjangkau: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return SendResult("unknown", error=f"gateway SMS: {type(exc).__name__}")
        return self.result(resp)

    def result(self, resp: httpx.Response) -> SendResult:
        c = self.config
        if resp.status_code == 429 or resp.status_code >= 500:
            return SendResult(
                "retry", error=f"gateway SMS HTTP {resp.status_code}", http_status=resp.status_code
            )
        try:
            doc = resp.json()
        except ValueError:
            return SendResult("rejected", error=f"gateway SMS HTTP {resp.status_code}: bukan JSON")
        if isinstance(doc, list) and doc:
            doc = doc[0]
        if not isinstance(doc, dict):
            return SendResult("rejected", error="gateway SMS: jawaban tidak dikenali")
        ok_values = {v.strip().lower() for v in str(c["success_values"]).split(",")}
        if resp.status_code < 300 and str(doc.get(c["status_field"], "")).lower() in ok_values:
            return SendResult(
                "accepted", provider_id=str(doc.get(c["id_field"]) or ""), http_status=resp.status_code
            )
        return SendResult(
            "rejected",
            error=f"gateway SMS: {str(doc.get(c['error_field']) or doc)[:200]}",
            http_status=resp.status_code,
        )

    def parse_dlr(self, body: bytes, headers: Any, query: Any) -> Inbound:
        """One delivery report → an ``Inbound`` status; WebhookRejected when unsigned or malformed."""
        secret = self.config.get("dlr_secret")
        if not secret:
            raise WebhookRejected(404, "laporan kirim SMS belum dikonfigurasi")
        given = str(headers.get("x-dlr-secret") or query.get("secret") or "")
        if not hmac.compare_digest(given.encode(), str(secret).encode()):
            raise WebhookRejected(401, "rahasia laporan kirim SMS tidak valid")
        try:
            doc = json.loads(body) if body.lstrip().startswith(b"{") else dict(parse_qsl(body.decode()))
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookRejected(400, "laporan kirim SMS tidak dikenali") from exc
        if not isinstance(doc, dict):
            raise WebhookRejected(400, "laporan kirim SMS tidak dikenali")
        mid = str(doc.get(self.config["dlr_id_field"]) or "")
        raw_status = str(doc.get(self.config["dlr_status_field"]) or "").strip().lower()
        if raw_status in DLR_DELIVERED:
            status = "delivered"
        elif raw_status in DLR_FAILED:
            status = "failed"
        else:
            raise WebhookRejected(400, f"status laporan kirim SMS tidak dikenali: {raw_status[:40]}")
        if not mid:
            raise WebhookRejected(400, "laporan kirim SMS tanpa messageId")
        return Inbound(
            "status",
            self.channel,
            provider_id=mid,
            status=status,
            error=None if status == "delivered" else f"gateway SMS: {raw_status}",
            event_id=f"dlr:{mid}:{status}",
            raw=doc,
        )
