"""Channel name → adapter class."""

from __future__ import annotations

from typing import Any

from app.channels.adapters.email import EmailAdapter
from app.channels.adapters.sms import SmsGatewayAdapter
from app.channels.adapters.telegram import TelegramAdapter
from app.channels.adapters.webpush import WebPushAdapter
from app.channels.adapters.whatsapp import WhatsAppAdapter
from app.channels.base import Adapter
from app.config import Settings, get_settings

ADAPTERS: dict[str, type[Adapter]] = {
    "whatsapp": WhatsAppAdapter,
    "telegram": TelegramAdapter,
    "sms": SmsGatewayAdapter,
    "webpush": WebPushAdapter,
    "email": EmailAdapter,
}


def adapter(channel: str, config: dict[str, Any], settings: Settings | None = None) -> Adapter:
    return ADAPTERS[channel](config, settings or get_settings())
