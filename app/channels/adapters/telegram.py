"""Telegram Bot API: ``sendMessage`` with an inline "Terima" button; callback queries via webhook.

Send: ``POST {TELEGRAM_API_BASE}/bot<token>/sendMessage`` (JSON ``chat_id``, ``text``,
``reply_markup.inline_keyboard``: a callback button that acknowledges and a URL button to the
acknowledgement page). The webhook (``setWebhook`` with ``secret_token``) carries
``X-Telegram-Bot-Api-Secret-Token``; a ``callback_query`` is answered with
``answerCallbackQuery`` so the officer's button stops spinning.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from app.channels import addresses
from app.channels.base import Inbound, Message, SendResult, WebhookRejected
from app.channels.outbound import client
from app.config import Settings

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramAdapter:
    channel: ClassVar[str] = "telegram"
    secret_fields: ClassVar[tuple[str, ...]] = ("bot_token", "webhook_secret")
    plain_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict[str, Any], settings: Settings) -> None:
        self.config = config
        self.base = settings.telegram_api_base.rstrip("/")

    @staticmethod
    def normalise_address(address: str) -> str:
        return addresses.telegram_chat(address)

    async def call(self, method: str, body: dict[str, Any]) -> httpx.Response:
        return await client().post(f"{self.base}/bot{self.config.get('bot_token')}/{method}", json=body)

    async def send(self, address: str, message: Message) -> SendResult:
        if not self.config.get("bot_token"):
            return SendResult("rejected", error="Telegram belum dikonfigurasi (token bot)")
        try:
            chat = self.normalise_address(address)
        except ValueError as exc:
            return SendResult("rejected", error=str(exc))
        buttons: list[list[dict[str, str]]] = []
        if message.callback:
            buttons.append(
                [{"text": message.action_label or "Terima", "callback_data": message.callback[:64]}]
            )
        if message.action_url:
            buttons.append([{"text": "Buka penugasan", "url": message.action_url}])
        body: dict[str, Any] = {
            "chat_id": chat,
            "text": (f"{message.title}\n\n" if message.title else "") + message.text,
            "disable_web_page_preview": True,
        }
        if buttons:
            body["reply_markup"] = {"inline_keyboard": buttons}
        try:
            resp = await self.call("sendMessage", body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return SendResult("retry", error=f"Telegram tidak terjangkau: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return SendResult("unknown", error=f"Telegram: {type(exc).__name__}")
        return _result(resp)

    async def answer_callback(self, callback_query_id: str, text: str) -> None:
        try:
            await self.call("answerCallbackQuery", {"callback_query_id": callback_query_id, "text": text})
        except httpx.HTTPError:
            pass  # cosmetic: the acknowledgement itself is already committed

    def parse(self, body: bytes, headers: Any) -> list[Inbound]:
        secret = self.config.get("webhook_secret")
        if not secret:
            raise WebhookRejected(404, "Telegram belum dikonfigurasi")
        if not hmac.compare_digest(str(headers.get(SECRET_HEADER) or ""), secret):
            raise WebhookRejected(401, "secret token webhook Telegram tidak valid")
        try:
            update = json.loads(body)
            update_id = int(update["update_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(400, "badan update Telegram tidak dikenali") from exc
        if "callback_query" in update:
            q = update["callback_query"]
            msg = q.get("message") or {}
            chat = (msg.get("chat") or {}).get("id")
            return [
                Inbound(
                    "button",
                    self.channel,
                    provider_id=f"{chat}:{msg.get('message_id')}",
                    sender=str(chat if chat is not None else (q.get("from") or {}).get("id")),
                    text=None,
                    callback=q.get("data"),
                    event_id=str(update_id),
                    raw=q,
                )
            ]
        if "message" in update:
            m = update["message"]
            return [
                Inbound(
                    "message",
                    self.channel,
                    sender=str((m.get("chat") or {}).get("id")),
                    text=m.get("text"),
                    at=datetime.fromtimestamp(int(m.get("date", 0)), UTC),
                    event_id=str(update_id),
                    raw=m,
                )
            ]
        return []


def _result(resp: httpx.Response) -> SendResult:
    try:
        doc = resp.json()
    except ValueError:
        doc = {}
    if resp.status_code == 200 and doc.get("ok"):
        r = doc["result"]
        return SendResult("accepted", provider_id=f"{r['chat']['id']}:{r['message_id']}", http_status=200)
    text = f"Telegram {doc.get('error_code', resp.status_code)}: {doc.get('description', '')}"[:300]
    if resp.status_code == 429:
        retry = (doc.get("parameters") or {}).get("retry_after")
        return SendResult("retry", error=text, http_status=429, retry_after_s=retry)
    if resp.status_code >= 500:
        return SendResult("retry", error=text, http_status=resp.status_code)
    return SendResult("rejected", error=text, http_status=resp.status_code)
