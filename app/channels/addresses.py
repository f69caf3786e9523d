"""Canonical contact addresses: Indonesian phone numbers in E.164 (phonenumbers), e-mail, chat ids."""

from __future__ import annotations

import re

import phonenumbers

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def phone_e164(value: str) -> str:
    """'0812-3456-7890' → '+6281234567890'; ValueError (Indonesian) if it is not a valid number."""
    try:
        n = phonenumbers.parse(value.strip(), "ID")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("nomor telepon tidak dikenali") from exc
    if not phonenumbers.is_valid_number(n):
        raise ValueError("nomor telepon tidak valid")
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise ValueError("alamat e-mail tidak valid")
    return value


def telegram_chat(value: str) -> str:
    """A numeric chat id (person or group, groups are negative) or @channelusername."""
    value = value.strip()
    if re.fullmatch(r"-?\d{1,20}", value) or re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{4,31}", value):
        return value
    raise ValueError("chat id Telegram harus berupa angka (grup diawali -) atau @nama_kanal")
