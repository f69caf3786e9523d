"""The one interface every outbound/inbound channel adapter implements.

An adapter speaks ONE provider's documented protocol (WhatsApp Business Cloud API, an HTTP SMS
gateway, Telegram Bot API, Web Push, SMTP). It knows nothing about dispatches, tenants or the
database: it is built from a channel's configuration (credentials already decrypted, base URLs
from settings) and sends a ``Message`` to an address, or parses a provider's webhook into
``Inbound`` items. The outbox (``app/channels/outbox.py``) and other domains (text-to-112) call
``app.channels.service.send_message`` and never an adapter's HTTP details.

Errors: ``send`` never raises for provider trouble; it returns a ``SendResult`` whose ``outcome``
says whether the message was accepted, refused for good (wrong credential, bad address:
``rejected``) or may succeed later (timeout, 5xx, 429: ``retry``). ``unknown`` means the request
may have reached the provider (connection lost after the body was sent): the outbox then never
re-sends on the same channel, so nobody is alerted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

CHANNELS = ("whatsapp", "telegram", "sms", "webpush", "email")
CHANNEL_LABELS = {
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "sms": "SMS",
    "webpush": "Notifikasi browser (web push)",
    "email": "E-mail",
}

Outcome = Literal["accepted", "retry", "rejected", "unknown"]


@dataclass(frozen=True)
class Message:
    """What to say. Each adapter uses what its provider supports and falls back to ``text``.

    text      plain text (SMS body, Telegram text, e-mail body, push body)
    title     short heading (push title, e-mail subject)
    template  WhatsApp template name (+ ``language``, body ``params`` in order)
    action_url / action_label   a link button ("Terima" → the one-tap acknowledgement link)
    callback  opaque data returned by a button press (Telegram callback_data, WhatsApp quick-reply
              payload), e.g. "ack:<outbox id>:<token>"; at most 64 bytes (Telegram's limit)
    reference our id for this message (outbox key); providers that accept one get it
    receipt_url  web push: signed URL the service worker calls when the notification is shown
    plain     free text only, never the channel's configured alert template (a chat reply or a
              link to a citizen; on WhatsApp valid only inside the 24-hour customer window)
    """

    text: str
    title: str | None = None
    template: str | None = None
    language: str = "id"
    params: tuple[str, ...] = ()
    action_url: str | None = None
    action_label: str | None = None
    callback: str | None = None
    reference: str | None = None
    receipt_url: str | None = None  # web push: the service worker POSTs here once it showed it
    plain: bool = False


@dataclass
class SendResult:
    outcome: Outcome
    provider_id: str | None = None  # the provider's message id (matches later status webhooks)
    error: str | None = None  # short, safe to show an admin (no secrets)
    http_status: int | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "accepted"


@dataclass
class Inbound:
    """One item of a provider webhook, normalised.

    kind      status   delivery state of a message we sent (provider_id, status)
              button   a button/reply on a message we sent (callback data or reply text)
              message  a new message from someone (text-to-112 reads these)
    status    sent | delivered | read | failed  (for kind == status)
    """

    kind: Literal["status", "button", "message"]
    channel: str
    provider_id: str | None = None  # id of OUR message this refers to (status, button)
    status: str | None = None
    sender: str | None = None  # phone number / chat id of the person
    text: str | None = None
    callback: str | None = None
    at: datetime | None = None
    event_id: str | None = None  # provider's id of this event, for replay de-duplication
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class WebhookRejected(Exception):
    """A webhook that is unsigned, badly signed, stale or malformed: answer 4xx, store nothing."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


class Adapter(Protocol):
    """``Adapter(config, settings)``; ``config`` is the tenant's decrypted channel configuration."""

    channel: ClassVar[str]
    # Credentials the admin enters (shown once, stored encrypted) and plain settings.
    secret_fields: ClassVar[tuple[str, ...]]
    plain_fields: ClassVar[tuple[str, ...]]

    def __init__(self, config: dict[str, Any], settings: Any) -> None: ...

    async def send(self, address: str, message: Message) -> SendResult: ...

    @staticmethod
    def normalise_address(address: str) -> str:
        """Canonical form of a contact address; raises ValueError (Indonesian message) if invalid."""
        ...
