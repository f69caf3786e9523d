"""Validated input and output shapes for calls and incidents (shared by the JSON API and the console forms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from app.bounds import INT4_MAX, YEAR_MIN, Input, OutOfBounds, StrictInt
from app.calls.phone import caller_id, normalize_phone

Channel = Literal["voice", "sms", "whatsapp", "app", "walk_in"]
Outcome = Literal["emergency", "non_emergency_info", "prank", "silent", "misdial", "duplicate"]
PhoneNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=32),
    AfterValidator(normalize_phone),
]
Language = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", max_length=8)
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
# Indonesia with a margin (sea, border areas): a pin outside is a typo, not a location.
Lat = Annotated[float, Strict(), Field(ge=-12.0, le=7.0, description="WGS84 latitude (Indonesia: -12..7)")]
Lon = Annotated[float, Strict(), Field(ge=94.0, le=142.0, description="WGS84 longitude (Indonesia: 94..142)")]
Priority = Annotated[StrictInt, Field(ge=1, le=4, description="1 = P1 (life-threatening) … 4 = P4")]
DbId = Annotated[StrictInt, Field(ge=1, le=INT4_MAX)]  # PostgreSQL integer columns

_FUTURE_SLACK = timedelta(minutes=5)


def split_caller(data: Any) -> Any:
    """Before validation: the delivered ``caller_number`` becomes the E.164 number (or None),
    ``caller_number_raw`` (as delivered) and ``number_unavailable``; both are the server's, so
    whatever a client sent for them is replaced. A value that is not text (a list, an object)
    is left alone for the field's own validation to refuse (422 naming ``caller_number``)."""
    if not isinstance(data, dict):
        return data
    raw = data.get("caller_number")
    if raw is not None and not isinstance(raw, (str, int)):
        return data
    number, raw_text, unavailable = caller_id(raw)
    return {**data, "caller_number": number, "caller_number_raw": raw_text, "number_unavailable": unavailable}


def _not_future(value: datetime | None, name: str) -> None:
    """Sane for any caller (the JSON API also applies the intake window: app.calls.api)."""
    if value is None:
        return
    if value > datetime.now(UTC) + _FUTURE_SLACK:
        raise OutOfBounds(name, f"{name} tidak boleh di masa depan")
    if value.year < YEAR_MIN:
        raise OutOfBounds(name, f"{name} tidak boleh sebelum tahun {YEAR_MIN}")


class _In(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CallCreate(_In):
    # Any caller number is taken (112 works without a SIM): see split_caller. The document says
    # so: whatever text or digits the network delivered (empty, "anonymous", garbage) is accepted.
    caller_number: Annotated[
        PhoneNumber | None,
        WithJsonSchema(
            {
                "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}],
                "description": "as delivered by the network; stored as E.164 when it is a usable "
                "number, else kept raw with number_unavailable=true (the call is still taken)",
            }
        ),
    ] = None
    caller_number_raw: str | None = None
    number_unavailable: bool = False
    channel: Channel = "voice"
    language: Language = "id"
    outcome: Outcome | None = None
    duplicate_of_id: DbId | None = None
    received_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    notes: Notes | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None

    _split_caller = model_validator(mode="before")(split_caller)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.outcome == "duplicate") != (self.duplicate_of_id is not None):
            raise OutOfBounds(
                "duplicate_of_id", "outcome 'duplicate' wajib disertai duplicate_of_id (dan sebaliknya)"
            )
        for name in ("received_at", "answered_at", "ended_at"):
            _not_future(getattr(self, name), name)
        if self.received_at and self.answered_at and self.answered_at < self.received_at:
            raise OutOfBounds("answered_at", "answered_at tidak boleh sebelum received_at")
        start = self.answered_at or self.received_at
        if start and self.ended_at and self.ended_at < start:
            raise OutOfBounds("ended_at", "ended_at tidak boleh sebelum panggilan diterima/dijawab")
        return self


class CallCorrection(_In):
    """A correction: only the fields sent are changed, and the change is logged as a new event."""

    caller_number: PhoneNumber | None = None
    channel: Channel | None = None
    language: Language | None = None
    outcome: Outcome | None = None
    duplicate_of_id: DbId | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    notes: Notes | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        for name in ("caller_number", "channel", "language", "outcome"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise OutOfBounds(name, f"{name} tidak boleh dikosongkan")
        if self.outcome == "duplicate" and self.duplicate_of_id is None:
            raise OutOfBounds("duplicate_of_id", "outcome 'duplicate' wajib disertai duplicate_of_id")
        if self.duplicate_of_id is not None and self.outcome not in (None, "duplicate"):
            raise OutOfBounds("duplicate_of_id", "duplicate_of_id hanya untuk outcome 'duplicate'")
        for name in ("answered_at", "ended_at"):
            _not_future(getattr(self, name), name)
        return self

    def changes(self) -> dict:
        return {k: getattr(self, k) for k in self.model_fields_set if k != "reason"}


class IncidentFields(_In):
    priority: Priority | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    kecamatan: ShortText | None = None
    kelurahan: ShortText | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    people_involved: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = None

    @model_validator(mode="after")
    def _both_coordinates(self):
        if (self.lat is None) != (self.lon is None):
            raise OutOfBounds("lon" if self.lon is None else "lat", "lat dan lon harus diisi bersama")
        return self


class IncidentCreate(IncidentFields):
    category_id: DbId
    call_id: DbId | None = Field(None, description="The call that reported it (attached to the incident)")


class IncidentUpdate(IncidentFields):
    category_id: DbId | None = None
    status: Literal["open", "closed"] | None = None

    def changes(self) -> dict:
        return {k: getattr(self, k) for k in self.model_fields_set}


class AttachCall(_In):
    call_id: DbId


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CallOut(_Out):
    id: int
    caller_number: str | None
    caller_number_raw: str | None = None
    number_unavailable: bool = False
    channel: str
    language: str
    received_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    operator_id: int | None
    outcome: str | None
    duplicate_of_id: int | None
    incident_id: int | None
    notes: str | None
    external_id: str | None


class CallPage(BaseModel):
    items: list[CallOut]
    total: int
    page: int
    per_page: int


class DispatchBrief(_Out):
    id: int
    opd_id: int
    opd_code: str
    opd_name: str
    status: str
    version: int
    sent_at: datetime
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    resolved_at: datetime | None
    rejected_at: datetime | None
    reject_reason: str | None


class IncidentOut(_Out):
    id: int
    category_id: int
    category_code: str | None = None
    category_name: str | None = None
    priority: int
    status: str
    address: str | None
    kecamatan: str | None
    kelurahan: str | None
    lat: float | None
    lon: float | None
    description: str | None
    people_involved: int | None
    opened_by: int | None
    opened_at: datetime
    closed_at: datetime | None
    call_ids: list[int] = []
    dispatches: list[DispatchBrief] = []


class NearbyIncident(_Out):
    id: int
    category_id: int
    priority: int
    address: str | None
    opened_at: datetime
    distance_m: float | None
    description: str | None


class EventOut(_Out):
    id: int
    entity: str
    entity_id: int
    kind: str
    actor_id: int | None
    actor_label: str | None
    at: datetime
    data: dict


class CallerHistory(BaseModel):
    number: str
    total: int
    prank_count: int
    silent_count: int
    emergency_count: int
    last_call_at: datetime | None
    recent: list[CallOut]
