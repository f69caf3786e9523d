"""JSON API for calls, incidents and caller history: /api/v1/t/<slug>/...

Auth: a cookie session (operators) or a bearer token with scope calls:read / calls:write.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from app.bounds import IsoDate, check_event_time, check_range
from app.calls import service
from app.calls.http import IdempotencyKey, idempotent, make_ctx, service_errors, with_key
from app.calls.phone import normalize_phone
from app.calls.schemas import (
    AttachCall,
    CallCorrection,
    CallCreate,
    CallerHistory,
    CallOut,
    CallPage,
    EventOut,
    IncidentCreate,
    IncidentOut,
    IncidentUpdate,
    NearbyIncident,
    Outcome,
)
from app.core.principal import Principal
from app.web.csrf import verify_csrf
from app.web.deps import TenantDep, TenantSessionDep, api_tenant_access
from app.web.params import PathId, QueryId

router = APIRouter(prefix="/api/v1/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["calls"])

OPERATOR_ROLES = ("operator", "supervisor", "admin")
CallsRead = Annotated[Principal, Depends(api_tenant_access(*OPERATOR_ROLES, scope="calls:read"))]
CallsWrite = Annotated[Principal, Depends(api_tenant_access(*OPERATOR_ROLES, scope="calls:write"))]
Id = QueryId


def _number(raw: str, field: str = "number") -> str:
    try:
        return normalize_phone(raw[:32])
    except ValueError as exc:
        raise RequestValidationError(
            [{"loc": ("query", field), "msg": str(exc), "type": "value_error"}]
        ) from exc


def _within_intake_window(request: Request, data: CallCreate) -> None:
    """A call's times lie within CALL_TIME_PAST_S before and CALL_TIME_FUTURE_S after now (as
    the telephony webhook's window): a call "received" in 1969 would start breached SLA clocks."""
    settings = request.app.state.settings
    now = datetime.now(UTC)
    for field in ("received_at", "answered_at", "ended_at"):
        value = getattr(data, field)
        if value is not None:
            check_event_time(
                value, field, now=now, past_s=settings.call_time_past_s, future_s=settings.call_time_future_s
            )


async def _incident_out(session, incident) -> dict:
    return (await service.incident_details(session, [incident]))[0]


@router.post(
    "/calls",
    status_code=201,
    response_model=CallOut,
    summary="Log a call (intake); idempotent by external_id / Idempotency-Key",
    responses={200: {"model": CallOut, "description": "a repeat: the call already stored under that key"}},
)
async def create_call(
    request: Request,
    response: Response,
    data: CallCreate,
    tenant: TenantDep,
    who: CallsWrite,
    key: IdempotencyKey = None,
):
    _within_intake_window(request, data)
    # Written by the intake queue with the calls other operators log at the same moment (one
    # transaction; app.calls.intake); answered once this call is committed. A repeat of a key
    # (a client retrying after a timeout) gets the stored call with 200 and writes nothing.
    data = with_key(data, key)
    with service_errors():
        call = await request.app.state.intake.submit(tenant, who, data)
    if not call.created:
        response.status_code = 200
    return call


@router.get("/calls", response_model=CallPage, summary="List calls (filter by number, outcome, dates)")
async def list_calls(
    session: TenantSessionDep,
    who: CallsRead,
    number: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Outcome | Literal["none"] | None = None,
    date_from: IsoDate | None = Query(None, description="inclusive, tenant-agnostic UTC date"),
    date_to: IsoDate | None = Query(None, description="inclusive"),
    active: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
):
    check_range(date_from, date_to)
    start = datetime.combine(date_from, time.min, UTC) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time.min, UTC) if date_to else None
    items, total = await service.list_calls(
        session,
        number=_number(number) if number else None,
        outcome=outcome,
        date_from=start,
        date_to=end,
        active=active,
        page=page,
        per_page=per_page,
    )
    return {"items": items, "total": total, "page": page, "per_page": per_page}


@router.get("/calls/{call_id}", response_model=CallOut)
async def get_call(call_id: PathId, session: TenantSessionDep, who: CallsRead):
    with service_errors():
        return await service.get_call(session, call_id)


@router.patch("/calls/{call_id}", response_model=CallOut, summary="Correct a call (logged as a new event)")
async def correct_call(
    request: Request, call_id: PathId, data: CallCorrection, session: TenantSessionDep, who: CallsWrite
):
    with service_errors():
        return await service.correct_call(make_ctx(request, session, who), call_id, data)


@router.get("/calls/{call_id}/events", response_model=list[EventOut], summary="Append-only history of a call")
async def call_events(call_id: PathId, session: TenantSessionDep, who: CallsRead):
    with service_errors():
        await service.get_call(session, call_id)
    return await service.history(session, "call", call_id)


@router.get("/callers/{number}/history", response_model=CallerHistory, summary="Repeat-caller history")
async def caller_history(
    number: str, session: TenantSessionDep, who: CallsRead, limit: Annotated[int, Query(ge=1, le=50)] = 10
):
    return await service.caller_history(session, _number(number), limit)


@router.post(
    "/incidents",
    status_code=201,
    response_model=IncidentOut,
    summary="Open an incident (from a call)",
    responses={
        200: {"model": IncidentOut, "description": "a repeat: the incident already opened under that key"}
    },
)
async def open_incident(
    request: Request,
    response: Response,
    data: IncidentCreate,
    session: TenantSessionDep,
    who: CallsWrite,
    key: IdempotencyKey = None,
):
    async def create():
        incident = await service.open_incident(make_ctx(request, session, who, key), data)
        return await _incident_out(session, incident)

    async def load(ids: list[int]):
        return await _incident_out(session, await service.get_incident(session, ids[0]))

    return await idempotent(response, session, "incident", key, create, load)


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    session: TenantSessionDep,
    who: CallsRead,
    status: Literal["open", "closed", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    incidents = await service.list_incidents(session, status=None if status == "all" else status, limit=limit)
    return await service.incident_details(session, incidents)


@router.get(
    "/incidents/nearby",
    response_model=list[NearbyIncident],
    summary="Open incidents of the same category nearby (to attach a call instead of opening a new one)",
)
async def nearby(
    session: TenantSessionDep,
    who: CallsRead,
    category_id: Id,
    lat: Annotated[float | None, Query(ge=-12, le=7)] = None,
    lon: Annotated[float | None, Query(ge=94, le=142)] = None,
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = service.NEARBY_RADIUS_M,
    window_min: Annotated[int, Query(ge=1, le=24 * 60)] = service.NEARBY_WINDOW_MIN,
):
    if (lat is None) != (lon is None):
        raise RequestValidationError(
            [{"loc": ("query", "lat"), "msg": "lat dan lon harus diisi bersama", "type": "value_error"}]
        )
    return await service.nearby_incidents(
        session, category_id, lat, lon, radius_m=radius_m, window_min=window_min
    )


# ":int": "/incidents/nearby" is not an incident id (a PATCH to it is a 405, not a 422).
@router.get("/incidents/{incident_id:int}", response_model=IncidentOut)
async def get_incident(incident_id: PathId, session: TenantSessionDep, who: CallsRead):
    with service_errors():
        incident = await service.get_incident(session, incident_id)
    return await _incident_out(session, incident)


@router.patch(
    "/incidents/{incident_id:int}", response_model=IncidentOut, summary="Update or close an incident"
)
async def update_incident(
    request: Request, incident_id: PathId, data: IncidentUpdate, session: TenantSessionDep, who: CallsWrite
):
    with service_errors():
        incident = await service.update_incident(make_ctx(request, session, who), incident_id, data)
    return await _incident_out(session, incident)


@router.post(
    "/incidents/{incident_id}/calls", response_model=IncidentOut, summary="Attach a call to an open incident"
)
async def attach_call(
    request: Request, incident_id: PathId, data: AttachCall, session: TenantSessionDep, who: CallsWrite
):
    with service_errors():
        incident = await service.attach_call(make_ctx(request, session, who), incident_id, data)
    return await _incident_out(session, incident)


@router.get("/incidents/{incident_id}/events", response_model=list[EventOut])
async def incident_events(incident_id: PathId, session: TenantSessionDep, who: CallsRead):
    with service_errors():
        await service.get_incident(session, incident_id)
    return await service.history(session, "incident", incident_id)
