"""E-mail over SMTP (STARTTLS or implicit TLS, optional AUTH), for non-urgent summaries and as a
last fallback. smtplib runs in a thread; the SMTP host comes from an admin and passes the SSRF guard.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar

from app.channels import addresses
from app.channels.base import Message, SendResult
from app.channels.outbound import UnsafeUrl, check_host
from app.config import Settings


class EmailAdapter:
    channel: ClassVar[str] = "email"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    plain_fields: ClassVar[tuple[str, ...]] = ("host", "port", "security", "username", "sender")

    def __init__(self, config: dict[str, Any], settings: Settings) -> None:
        self.config = config

    @staticmethod
    def normalise_address(address: str) -> str:
        return addresses.email(address)

    def build(self, address: str, message: Message) -> EmailMessage:
        m = EmailMessage()
        m["From"] = self.config.get("sender") or "siaga112@localhost"
        m["To"] = self.normalise_address(address)
        m["Subject"] = message.title or "Siaga112"
        m["Date"] = formatdate(localtime=False)
        m["Message-ID"] = make_msgid(domain="siaga112")
        if message.reference:
            m["X-Siaga112-Reference"] = message.reference
        body = message.text
        if message.action_url:
            body += f"\n\n{message.action_label or 'Buka'}: {message.action_url}\n"
        m.set_content(body)
        return m

    def _send_sync(self, m: EmailMessage) -> None:
        c = self.config
        host, port, security = str(c.get("host")), int(c.get("port") or 587), c.get("security") or "starttls"
        if security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=10, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=10)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if c.get("username"):
                try:
                    smtp.login(c["username"], c.get("password") or "")
                except smtplib.SMTPServerDisconnected as exc:  # some servers hang up on a bad login
                    raise smtplib.SMTPAuthenticationError(535, b"disconnected during AUTH") from exc
            smtp.send_message(m)

    async def send(self, address: str, message: Message) -> SendResult:
        if not self.config.get("host"):
            return SendResult("rejected", error="SMTP belum dikonfigurasi (host)")
        try:
            await check_host(self.config["host"])
            m = self.build(address, message)
        except (UnsafeUrl, ValueError) as exc:
            return SendResult("rejected", error=f"e-mail: {exc}")
        try:
            await asyncio.to_thread(self._send_sync, m)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult("rejected", error=f"SMTP menolak login ({exc.smtp_code})")
        except smtplib.SMTPRecipientsRefused:
            return SendResult("rejected", error="SMTP menolak alamat penerima")
        except smtplib.SMTPResponseException as exc:
            outcome = "retry" if 400 <= exc.smtp_code < 500 else "rejected"
            return SendResult(outcome, error=f"SMTP {exc.smtp_code}")  # type: ignore[arg-type]
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult("retry", error=f"SMTP tidak terjangkau: {type(exc).__name__}")
        return SendResult("accepted", provider_id=m["Message-ID"])
