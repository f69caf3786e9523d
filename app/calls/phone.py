"""Caller numbers: stored as E.164 so a repeat caller is recognised however the number was typed."""

from __future__ import annotations

import re

from app.bounds import ascii_digits

_SEPARATORS = re.compile(r"[\s\-().]")
_INDONESIA = re.compile(r"\+62[1-9]\d{6,11}", re.ASCII)
_E164 = re.compile(r"\+[1-9]\d{6,14}", re.ASCII)


def normalize_phone(raw: str) -> str:
    """'0812-3456-7890' / '62812…' / '+62 812…' → '+6281234567890'; raises ValueError if not a number.

    Indonesian national numbers (leading 0) get +62; '00' is the international prefix.
    """
    value = _SEPARATORS.sub("", raw or "")
    if value.startswith("00"):
        value = "+" + value[2:]
    elif value.startswith("0"):
        value = "+62" + value[1:]
    elif value.startswith("62"):
        value = "+" + value
    if not value.startswith("+") or not ascii_digits(value[1:]):
        raise ValueError("Nomor penelepon tidak valid: gunakan format 08xx atau +62xx (E.164)")
    if value.startswith("+62"):
        if not _INDONESIA.fullmatch(value):
            raise ValueError("Nomor Indonesia tidak valid: +62 diikuti 7–12 digit (misal +6281234567890)")
    elif not _E164.fullmatch(value):
        raise ValueError("Nomor tidak valid: E.164 adalah + diikuti 7–15 digit")
    return value


# What a network delivers for a call without a usable number: no SIM card, a withheld or
# "anonymous" caller id, or garbage. 112 must take these calls anyway (in Indonesia 112 works
# without a SIM), so they are stored with the raw value and flagged, never refused.
NUMBER_UNAVAILABLE = "nomor tidak tersedia"
RAW_MAX = 64  # longer raw values are kept cut to this length (the number is unusable anyway)


def caller_id(raw: object) -> tuple[str | None, str | None, bool]:
    """(E.164 number or None, raw value as delivered or None, number_unavailable).

    Never raises: an unusable number is a flagged call, not an error. Whether a value that is
    not text at all (a list, an object) is acceptable is the schema's decision, not this one's.
    """
    if raw is None:
        return None, None, True
    text = str(raw).strip()[:RAW_MAX]
    if not text or len(text) > 32:
        return None, text or None, True
    try:
        return normalize_phone(text), text, False
    except ValueError:
        return None, text, True
