"""Bounded numbers and dates: the one validator every form, query string and API body uses.

Why bounds: Python's ``int()`` accepts ``١٢`` (Arabic-Indic digits) and ``date`` accepts
year 9999, where ``+ 1 day`` overflows (500); PostgreSQL's ``integer`` ends at 2^31-1; and a call
"received" in 1969 starts SLA clocks already breached and escalates at once. Each check raises
``OutOfBounds(field, message)`` (Indonesian, for the person who typed it); views put the message
beside the field, the JSON API turns it into a 422 naming the field (app.main).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, PlainValidator, Strict, WithJsonSchema, field_validator

INT4_MAX = 2**31 - 1  # PostgreSQL integer: every id column
YEAR_MIN = 2000  # report and search ranges: nothing older exists, nothing later is sane
YEAR_MAX = 2099
DATE_MIN = date(YEAR_MIN, 1, 1)
DATE_MAX = date(YEAR_MAX, 12, 31)
_ASCII_INT = re.compile(r"[0-9]{1,18}")


class OutOfBounds(ValueError):
    """Bad input for one field; ``str(exc)`` is the message shown beside it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also says yes to ``١٢``, ``²`` and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str | None) -> int | None:
    """``text`` as a non-negative integer if it is 1–18 ASCII digits (nothing else), else None."""
    if text is None:
        return None
    value = text.strip()
    return int(value) if _ASCII_INT.fullmatch(value) else None


def parse_int(text: str | None, field: str, *, lo: int = 0, hi: int = INT4_MAX, label: str = "Nilai") -> int:
    """A whole number in [lo, hi] written with ASCII digits (``١٢``, ``1e3``, ``+1`` refused)."""
    value = ascii_int(text)
    if value is None:
        raise OutOfBounds(field, f"{label} harus berupa angka 0–9")
    if not lo <= value <= hi:
        raise OutOfBounds(field, f"{label} harus antara {lo} dan {hi}")
    return value


def parse_date(text: str | None, field: str) -> date:
    """A calendar date ``YYYY-MM-DD`` between DATE_MIN and DATE_MAX."""
    value = (text or "").strip()
    if not value.isascii() or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise OutOfBounds(field, "Tanggal tidak valid (format YYYY-MM-DD)")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise OutOfBounds(field, "Tanggal tidak valid (format YYYY-MM-DD)") from None
    return check_date(parsed, field)


def check_date(value: date, field: str) -> date:
    if not DATE_MIN <= value <= DATE_MAX:
        raise OutOfBounds(field, f"Tanggal harus antara {DATE_MIN.isoformat()} dan {DATE_MAX.isoformat()}")
    return value


def check_range(date_from: date | None, date_to: date | None, to_field: str = "date_to") -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise OutOfBounds(to_field, "Tanggal akhir sebelum tanggal awal")


def check_event_time(value: datetime, field: str, *, now: datetime, past_s: int, future_s: int) -> datetime:
    """A call's time must lie within [now - past_s, now + future_s] (as the telephony webhook's
    replay window does); a naive time is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise OutOfBounds(field, "Waktu harus menyertakan zona waktu (mis. 2026-11-30T08:00:00+07:00)")
    low, high = now - timedelta(seconds=past_s), now + timedelta(seconds=future_s)
    if not low <= value <= high:
        hours = past_s // 3600
        raise OutOfBounds(
            field, f"Waktu harus dalam {hours} jam terakhir (dan tidak lebih dari {future_s} detik ke depan)"
        )
    return value.astimezone(UTC)


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("Teks tidak boleh berisi karakter NUL")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class Input(BaseModel):
    """Base of every JSON body the API accepts: a NUL byte (PostgreSQL text cannot hold it) is
    refused by the field it is in, not by the database (which could not name the field)."""

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return _no_nul(value)


def _iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return check_date(value, "date")
    if not isinstance(value, str):
        raise OutOfBounds("date", "Tanggal tidak valid (format YYYY-MM-DD)")
    return parse_date(value, "date")


DATE_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# A date parameter: exactly YYYY-MM-DD within DATE_MIN..DATE_MAX (pydantic's own ``date`` would
# also take ``0`` as 1970-01-01 and ``9999-12-31``, where a day later overflows).
IsoDate = Annotated[
    date,
    PlainValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
# JSON integers only: pydantic would also take ``true`` as 1 and ``2.0`` as 2.
StrictInt = Annotated[int, Strict()]
