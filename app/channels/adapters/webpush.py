"""Web Push (RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID) via pywebpush.

The address is a browser's PushSubscription as JSON (``endpoint``, ``keys.p256dh``,
``keys.auth``), registered by the OPD queue page's service worker. The endpoint is chosen by
the browser, so its host must be on WEBPUSH_ALLOWED_HOSTS (SSRF guard). ``201 Created`` is
accepted; ``404``/``410`` mean the subscription is gone (rejected, the caller drops it).
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pywebpush import WebPusher

from app.channels import vapid
from app.channels.base import Message, SendResult
from app.channels.outbound import UnsafeUrl, check_url, client
from app.config import Settings

TTL_S = 3600


def parse_subscription(address: str) -> dict[str, Any]:
    try:
        sub = json.loads(address)
        endpoint, keys = sub["endpoint"], sub["keys"]
        if not (isinstance(endpoint, str) and keys.get("p256dh") and keys.get("auth")):
            raise KeyError("keys")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError("langganan push tidak valid (endpoint, keys.p256dh, keys.auth)") from exc
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


class WebPushAdapter:
    channel: ClassVar[str] = "webpush"
    secret_fields: ClassVar[tuple[str, ...]] = ()
    plain_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict[str, Any], settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def normalise_address(address: str) -> str:
        return json.dumps(parse_subscription(address), sort_keys=True)

    async def send(self, address: str, message: Message) -> SendResult:
        try:
            sub = parse_subscription(address)
            endpoint = (
                await check_url(sub["endpoint"], allowed_hosts=self.settings.webpush_allowed_hosts)
            ).url
        except (UnsafeUrl, ValueError) as exc:
            return SendResult("rejected", error=f"push: {exc}")
        doc = {"title": message.title or "Siaga112", "body": message.text, "url": message.action_url}
        if message.receipt_url:
            doc["receipt"] = message.receipt_url
        data = json.dumps(
            doc,
            ensure_ascii=False,
        ).encode()
        encoded = WebPusher(sub).encode(data, content_encoding="aes128gcm")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(endpoint))
        claims = {"aud": origin, "exp": int(time.time()) + 12 * 3600, "sub": self.settings.vapid_subject}
        headers = {
            **vapid.signer(self.settings).sign(claims),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_S),
            "Urgency": "high",
        }
        try:
            resp = await client().post(endpoint, content=encoded["body"], headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return SendResult("retry", error=f"layanan push tidak terjangkau: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return SendResult("unknown", error=f"layanan push: {type(exc).__name__}")
        if resp.status_code in (200, 201, 202):
            return SendResult(
                "accepted", provider_id=resp.headers.get("location"), http_status=resp.status_code
            )
        text = f"push HTTP {resp.status_code}"
        if resp.status_code == 429 or resp.status_code >= 500:
            return SendResult("retry", error=text, http_status=resp.status_code)
        if resp.status_code in (404, 410):
            return SendResult(
                "rejected", error=text + " (langganan kedaluwarsa)", http_status=resp.status_code
            )
        return SendResult("rejected", error=text, http_status=resp.status_code)
