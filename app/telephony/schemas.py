"""Integrator payloads: call events and AML deliveries (strict: unknown fields are refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.bounds import Input
from app.calls.phone import normalize_phone
from app.calls.schemas import split_caller

EVENT_TYPES = ("ringing", "answered", "transferred", "ended")
Ident = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=32),
    AfterValidator(normalize_phone),
]
# The called number is 112 itself or a short/trunk number: digits only, not normalised.
Called = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{2,15}$")]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:/ -]+$"),
]
Extension = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9*#._-]+$")
]

Imei = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{14,16}$")]
Imsi = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6,15}$")]

MAX_EVENT_AGE = timedelta(hours=24)
MAX_EVENT_AHEAD = timedelta(minutes=5)


class CallEventIn(Input):
    model_config = ConfigDict(extra="forbid")

    event_id: Ident
    type: Literal["ringing", "answered", "transferred", "ended"]
    call_id: Ident
    # Any caller number is taken (no SIM, withheld, "anonymous"): see app.calls.schemas.split_caller.
    caller_number: Phone | None = None
    caller_number_raw: str | None = None
    number_unavailable: bool = False
    imei: Imei | None = None
    imsi: Imsi | None = None
    called_number: Called | None = None
    trunk: Label | None = None
    occurred_at: AwareDatetime
    operator_extension: Extension | None = None

    _split_caller = model_validator(mode="before")(split_caller)

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        now = datetime.now(UTC)
        if value > now + MAX_EVENT_AHEAD:
            raise ValueError("occurred_at lebih dari 5 menit di masa depan (periksa jam integrator)")
        if value < now - MAX_EVENT_AGE:
            raise ValueError("occurred_at lebih dari 24 jam yang lalu")
        return value.astimezone(UTC)


class AmlIn(Input):
    model_config = ConfigDict(extra="forbid")

    # Optional: a handset without a SIM sends AML with its IMEI (and no MSISDN); the call is
    # then found by IMEI/IMSI. A malformed number is ignored the same way.
    caller_number: Phone | None = None
    caller_number_raw: str | None = None
    number_unavailable: bool = False
    message: Annotated[str, StringConstraints(min_length=1, max_length=1024)]

    _split_caller = model_validator(mode="before")(split_caller)
