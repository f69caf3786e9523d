"""The incident-transfer document (schema/incident-transfer-v1.json): built from a sender's own
incident, validated with jsonschema before it is stored, sent or accepted.

This document is the ONLY thing that crosses from one regency to another: the receiver reads
nothing of the sender's schema.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bounds import ascii_digits
from app.calls.models import Call, EventLog, Incident
from app.dispatch.models import Category, Dispatch, Opd
from app.telephony.models import AmlLocation

SCHEMA_PATH = Path(__file__).parent / "schema" / "incident-transfer-v1.json"
VERSION = "1"
CATEGORY_SCHEME = "siaga112-category"
MAX_REMARKS = 500
MAX_FIXES = 100


class InvalidDocument(ValueError):
    """A document that fails the schema; ``errors`` = [(JSON path, message)], every failure."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


@lru_cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@lru_cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema(), format_checker=FormatChecker())


def validate(document: Any) -> dict[str, Any]:
    """The document itself, or InvalidDocument naming every failing path (``$.informer.phoneNumber``)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise InvalidDocument([(e.json_path, e.message) for e in errors])
    return document


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def shared_incident_id(region_code: str, incident_id: int | str) -> str:
    return f"urn:siaga112:{region_code}:incident:{incident_id}"


def _remark_text(entry: EventLog) -> str:
    data = entry.data or {}
    for key in ("text", "reason", "note", "notes", "description"):
        if isinstance(data.get(key), str) and data[key].strip():
            return f"{entry.kind}: {data[key].strip()}"[:5000]
    return entry.kind


async def build(
    session: AsyncSession,
    incident: Incident | None,
    *,
    call: Call | None = None,
    transfer_id: uuid.UUID,
    sender: dict[str, str],
    receiver: dict[str, str] | None,
    reason: str,
    shared_id: str | None = None,
) -> dict[str, Any]:
    """The document for one incident of the session's tenant (its calls, notes, fixes, timeline),
    or for one call that has no incident yet (``incident`` None, ``call`` given)."""
    if incident is not None:
        category = await session.get(Category, incident.category_id)
        calls = list(
            (
                await session.execute(select(Call).where(Call.incident_id == incident.id).order_by(Call.id))
            ).scalars()
        )
    elif call is not None:
        category, calls = None, [call]
    else:
        raise ValueError("an incident or a call")
    first = calls[0] if calls else None
    own = (EventLog.entity == "incident") & (EventLog.entity_id == (incident.id if incident else 0))
    timeline = list(
        (
            await session.execute(
                select(EventLog)
                .where(
                    or_(
                        own,
                        (EventLog.entity == "call") & EventLog.entity_id.in_([c.id for c in calls] or [0]),
                    )
                )
                .order_by(EventLog.at, EventLog.id)
                .limit(MAX_REMARKS)
            )
        ).scalars()
    )
    remarks = [
        {"at": iso(c.received_at), "author": None, "kind": "call_note", "text": c.notes[:5000]}
        for c in calls
        if c.notes and c.notes.strip()
    ]
    remarks += [
        {"at": iso(e.at), "author": e.actor_label, "kind": e.kind, "text": _remark_text(e)} for e in timeline
    ]
    remarks.sort(key=lambda r: r["at"] or "")
    fixes = await _location_fixes(session, calls)
    dispatched = (
        [
            {"code": code, "name": name, "status": d.status}
            for d, code, name in (
                await session.execute(
                    select(Dispatch, Opd.code, Opd.name)
                    .join(Opd, Opd.id == Dispatch.opd_id)
                    .where(Dispatch.incident_id == incident.id)
                    .order_by(Dispatch.id)
                )
            ).all()
        ]
        if incident is not None
        else []
    )
    if incident is not None:
        lat, lon = incident.lat, incident.lon
        accuracy = next((f["accuracyM"] for f in reversed(fixes) if f["latitude"] == lat), None)
        place = {
            "address": incident.address,
            "kecamatan": incident.kecamatan,
            "kelurahan": incident.kelurahan,
        }
    else:
        last = fixes[-1] if fixes else {}
        lat, lon, accuracy = last.get("latitude"), last.get("longitude"), last.get("accuracyM")
        place = {"address": None, "kecamatan": None, "kelurahan": None}
    local_id = (
        f"call:{call.id}" if incident is None and call is not None else str(incident.id if incident else 0)
    )
    doc: dict[str, Any] = {
        "version": VERSION,
        "transferId": str(transfer_id),
        "incidentId": shared_id or shared_incident_id(sender["id"], local_id),
        "sentAt": iso(datetime.now(UTC)),
        "sendingCentre": {**sender, "kind": "regency"},
        "reason": reason,
        "classifications": [
            {
                "scheme": CATEGORY_SCHEME,
                "code": category.code if category else "other",
                "label": category.name if category else "Belum diklasifikasi",
            }
        ],
        "priority": incident.priority if incident else 2,
        "openedAt": iso(incident.opened_at if incident else first.received_at if first else None),
        "description": incident.description if incident else None,
        "peopleInvolved": incident.people_involved if incident else None,
        "location": {**place, "latitude": lat, "longitude": lon, "accuracyM": accuracy},
        "locationFixes": fixes,
        "informer": {
            "phoneNumber": _e164(first.caller_number) if first else None,
            "channel": first.channel if first else None,
            "language": first.language if first else None,
        },
        "remarks": remarks[:MAX_REMARKS],
        "dispatchedAgencies": dispatched,
    }
    if receiver is not None:
        doc["receivingCentre"] = {**receiver, "kind": "regency"}
    return validate(doc)


def _e164(number: str | None) -> str | None:
    if number and number.startswith("+") and ascii_digits(number[1:]) and 7 <= len(number) - 1 <= 15:
        return number
    return None  # withheld / anonymous / no SIM


async def _location_fixes(session: AsyncSession, calls: list[Call]) -> list[dict[str, Any]]:
    fixes = [
        {
            "latitude": c.location_lat,
            "longitude": c.location_lon,
            "accuracyM": c.location_radius_m,
            "source": c.location_source,
            "at": iso(c.location_at or c.received_at),
        }
        for c in calls
        if c.location_lat is not None and c.location_lon is not None
    ]
    if calls:
        for a in (
            await session.execute(
                select(AmlLocation)
                .where(AmlLocation.call_id.in_([c.id for c in calls]), AmlLocation.lat.is_not(None))
                .order_by(AmlLocation.positioned_at)
                .limit(MAX_FIXES)
            )
        ).scalars():
            fixes.append(
                {
                    "latitude": a.lat,
                    "longitude": a.lon,
                    "accuracyM": a.radius_m,
                    "source": "aml",
                    "at": iso(a.positioned_at),
                }
            )
    fixes.sort(key=lambda f: str(f["at"]))
    return fixes[:MAX_FIXES]
