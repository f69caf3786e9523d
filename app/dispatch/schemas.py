"""Input and output shapes for dispatches to agencies (OPD)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.bounds import INT4_MAX, Input, OutOfBounds
from app.calls.schemas import DbId, DispatchBrief

Status = Literal["acknowledged", "en_route", "on_scene", "resolved", "rejected"]


class DispatchCreate(Input):
    model_config = ConfigDict(extra="forbid")
    opd_ids: Annotated[list[DbId], Field(min_length=1, max_length=20)]

    @field_validator("opd_ids")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        return list(dict.fromkeys(v))


class DispatchTransition(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    status: Status
    version: (
        Annotated[
            int, Field(ge=1, le=INT4_MAX, description="The version the client saw (409 if it moved on)")
        ]
        | None
    ) = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _reason_for_reject(self):
        if self.status == "rejected" and (not self.reason or len(self.reason) < 3):
            raise OutOfBounds("reason", "Alasan penolakan wajib diisi (minimal 3 karakter)")
        return self


class DispatchOut(DispatchBrief):
    incident_id: int
    sent_by: int | None
    updated_at: datetime


class OpdOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    type: str
    emergency_number: str | None
    is_active: bool


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    default_priority: int
    opd_ids: list[int] = []


class QueueItem(BaseModel):
    dispatch: DispatchOut
    incident_id: int
    category_name: str
    priority: int
    address: str | None
    kecamatan: str | None
    description: str | None
    lat: float | None
    lon: float | None
