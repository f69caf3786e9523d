"""Strict parser for Advanced Mobile Location messages (ETSI TS 103 625, SMS/HTTPS text form).

    A"ML=1;lt=-0.78930;lg=+100.65430;rd=15;top=20191231235959;lc=68;pm=G;si=...;ei=...;mcc=510;mnc=10;ml=124

A position sent by a handset in distress goes onto an operator's map, so anything doubtful is
refused with a precise reason instead of being guessed at: unknown or repeated keys, values
out of range, or an ``ml`` that is not the length of the whole message (header and ``ml``
included). Every failure is an ``AmlError`` (a ValueError) naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from app.bounds import ascii_digits

HEADER = 'A"ML=1'
MAX_LENGTH = 512
REQUIRED = ("lt", "lg", "rd", "top", "lc", "pm", "mcc", "mnc", "ml")
OPTIONAL = ("si", "ei")
METHODS = {"G": "GNSS", "W": "Wi-Fi", "C": "sel (cell)", "N": "tanpa lokasi"}

_NUMBER = re.compile(r"[+-]?\d{1,3}(\.\d{1,10})?", re.ASCII)
_RADIUS = re.compile(r"\d{1,7}(\.\d{1,3})?", re.ASCII)
_KEY = re.compile(r"[a-z]{2,3}")


class AmlError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class AmlMessage:
    lat: float | None
    lon: float | None
    radius_m: float | None
    positioned_at: datetime  # UTC
    confidence: int  # percent
    method: str  # G | W | C | N
    imsi: str | None
    imei: str | None
    mcc: str
    mnc: str

    @property
    def has_position(self) -> bool:
        return self.lat is not None


def parse(text: str) -> AmlMessage:
    if not isinstance(text, str):
        raise AmlError("message", "harus berupa teks")
    if len(text) > MAX_LENGTH:
        raise AmlError("message", f"terlalu panjang ({len(text)} > {MAX_LENGTH} karakter)")
    if not text.isascii() or not text.isprintable():
        raise AmlError("message", "hanya karakter ASCII yang dapat dicetak yang diperbolehkan")
    parts = text.split(";")
    if parts[0] != HEADER:
        raise AmlError("header", f"pesan harus diawali {HEADER}")
    fields: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise AmlError("message", f"pasangan kunci=nilai tidak sah: {part[:20]!r}")
        if key not in REQUIRED and key not in OPTIONAL:
            raise AmlError(key, "kunci tidak dikenal")
        if key in fields:
            raise AmlError(key, "kunci muncul lebih dari sekali")
        fields[key] = value
    missing = [k for k in REQUIRED if k not in fields]
    if missing:
        raise AmlError(missing[0], "wajib ada")

    ml = _int(fields["ml"], "ml", 1, MAX_LENGTH)
    if ml != len(text):
        raise AmlError("ml", f"panjang pesan {len(text)} tidak sama dengan ml={ml}")
    method = fields["pm"]
    if method not in METHODS:
        raise AmlError("pm", f"metode posisi harus salah satu dari {', '.join(METHODS)}")
    if method == "N" and not (fields["lt"] or fields["lg"] or fields["rd"]):
        lat = lon = radius = None
    else:
        lat = _coordinate(fields["lt"], "lt", 90)
        lon = _coordinate(fields["lg"], "lg", 180)
        radius = _radius(fields["rd"])
    return AmlMessage(
        lat=lat,
        lon=lon,
        radius_m=radius,
        positioned_at=_timestamp(fields["top"]),
        confidence=_int(fields["lc"], "lc", 0, 100),
        method=method,
        imsi=_digits(fields.get("si", ""), "si", 6, 15),
        imei=_digits(fields.get("ei", ""), "ei", 14, 16),
        mcc=_required_digits(fields["mcc"], "mcc", 3, 3),
        mnc=_required_digits(fields["mnc"], "mnc", 2, 3),
    )


def format_message(msg: AmlMessage) -> str:
    """The canonical text of a message (used by the simulator and the round-trip test)."""
    pairs = [HEADER]
    if msg.has_position:
        pairs += [f"lt={_fmt(msg.lat)}", f"lg={_fmt(msg.lon)}", f"rd={_fmt(msg.radius_m, signed=False)}"]
    else:
        pairs += ["lt=", "lg=", "rd="]
    pairs += [
        f"top={msg.positioned_at.astimezone(UTC):%Y%m%d%H%M%S}",
        f"lc={msg.confidence}",
        f"pm={msg.method}",
        f"si={msg.imsi or ''}",
        f"ei={msg.imei or ''}",
        f"mcc={msg.mcc}",
        f"mnc={msg.mnc}",
    ]
    body = ";".join(pairs) + ";ml="
    length = len(body) + 1
    while len(body) + len(str(length)) != length:  # ml counts its own digits
        length = len(body) + len(str(length))
    return body + str(length)


def _fmt(value: float | None, signed: bool = True) -> str:
    text = f"{value:+.6f}" if signed else f"{value:.3f}"
    return text.rstrip("0").rstrip(".")


def _coordinate(value: str, field: str, limit: int) -> float:
    if not _NUMBER.fullmatch(value):
        raise AmlError(field, f"bukan angka desimal: {value[:20]!r}")
    number = float(value)
    if not -limit <= number <= limit:
        raise AmlError(field, f"di luar rentang -{limit}..{limit}")
    return number


def _radius(value: str) -> float:
    if value.startswith("-"):
        raise AmlError("rd", "radius tidak boleh negatif")
    if not _RADIUS.fullmatch(value):
        raise AmlError("rd", f"radius (meter) tidak sah: {value[:20]!r}")
    return float(value)


def _int(value: str, field: str, low: int, high: int) -> int:
    if not ascii_digits(value) or len(value) > 4:
        raise AmlError(field, f"bukan bilangan bulat: {value[:20]!r}")
    number = int(value)
    if not low <= number <= high:
        raise AmlError(field, f"di luar rentang {low}..{high}")
    return number


def _digits(value: str, field: str, low: int, high: int) -> str | None:
    if not value:
        return None
    return _required_digits(value, field, low, high)


def _required_digits(value: str, field: str, low: int, high: int) -> str:
    if not (ascii_digits(value) and low <= len(value) <= high):
        raise AmlError(field, f"harus {low}–{high} digit" if low != high else f"harus {low} digit")
    return value


def _timestamp(value: str) -> datetime:
    if len(value) != 14 or not ascii_digits(value):
        raise AmlError("top", "harus YYYYMMDDhhmmss (UTC)")
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise AmlError("top", "tanggal/waktu tidak sah") from None
