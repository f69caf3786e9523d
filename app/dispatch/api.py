"""JSON API for dispatching incidents to agencies and for the agencies' queues.

Operators dispatch (scope dispatch:write for tokens); agency staff move their own dispatches on.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.calls import service as calls
from app.calls.http import IdempotencyKey, idempotent, make_ctx, service_errors
from app.calls.schemas import EventOut
from app.core.principal import Principal
from app.dispatch import service
from app.dispatch.schemas import (
    CategoryOut,
    DispatchCreate,
    DispatchOut,
    DispatchTransition,
    OpdOut,
    QueueItem,
)
from app.web.csrf import verify_csrf
from app.web.deps import TenantSessionDep, api_tenant_access
from app.web.errors import Forbidden
from app.web.params import PathId, QueryId

router = APIRouter(prefix="/api/v1/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["dispatch"])

OPERATOR_ROLES = ("operator", "supervisor", "admin")
Reader = Annotated[Principal, Depends(api_tenant_access(*OPERATOR_ROLES, "opd_staff", scope="dispatch:read"))]
Dispatcher = Annotated[Principal, Depends(api_tenant_access(*OPERATOR_ROLES, scope="dispatch:write"))]
Agency = Annotated[Principal, Depends(api_tenant_access("opd_staff", scope="dispatch:write"))]


@router.get(
    "/categories", response_model=list[CategoryOut], summary="Incident categories and their routed OPDs"
)
async def categories(session: TenantSessionDep, who: Reader):
    return await service.list_categories(session)


@router.get("/opds", response_model=list[OpdOut])
async def opds(session: TenantSessionDep, who: Reader):
    return await service.list_opds(session)


@router.get(
    "/incidents/{incident_id}/suggested-opds",
    response_model=list[OpdOut],
    summary="Agencies routed for the incident's category",
)
async def suggested(incident_id: PathId, session: TenantSessionDep, who: Dispatcher):
    with service_errors():
        incident = await calls.get_incident(session, incident_id)
    return await service.suggested_opds(session, incident.category_id)


@router.post(
    "/incidents/{incident_id}/dispatches",
    status_code=201,
    response_model=list[DispatchOut],
    summary="Dispatch an incident to one or more OPDs",
    responses={
        200: {
            "model": list[DispatchOut],
            "description": "a repeat: the dispatches already made under that key",
        }
    },
)
async def dispatch(
    request: Request,
    response: Response,
    incident_id: PathId,
    data: DispatchCreate,
    session: TenantSessionDep,
    who: Dispatcher,
    key: IdempotencyKey = None,
):
    async def create():
        created = await service.dispatch_incident(make_ctx(request, session, who, key), incident_id, data)
        return [await service.dispatch_out(session, d) for d in created]

    async def load(ids: list[int]):
        return [await service.dispatch_out(session, await service.get_dispatch(session, i)) for i in ids]

    return await idempotent(response, session, service.dispatch_scope(incident_id), key, create, load)


@router.get("/dispatches/{dispatch_id}", response_model=DispatchOut)
async def get_dispatch(dispatch_id: PathId, session: TenantSessionDep, who: Reader):
    with service_errors():
        d = await service.get_visible_dispatch(session, who, dispatch_id)
    return await service.dispatch_out(session, d)


@router.post(
    "/dispatches/{dispatch_id}/transition",
    response_model=DispatchOut,
    summary="Move a dispatch on (OPD staff): acknowledged, en_route, on_scene, resolved, rejected",
)
async def transition(
    request: Request, dispatch_id: PathId, data: DispatchTransition, session: TenantSessionDep, who: Agency
):
    with service_errors():
        d = await service.transition(make_ctx(request, session, who), dispatch_id, data)
    return await service.dispatch_out(session, d)


@router.get("/dispatches/{dispatch_id}/events", response_model=list[EventOut])
async def dispatch_events(dispatch_id: PathId, session: TenantSessionDep, who: Reader):
    with service_errors():
        await service.get_visible_dispatch(session, who, dispatch_id)
    return await calls.history(session, "dispatch", dispatch_id)


@router.get("/opd/queue", response_model=list[QueueItem], summary="An OPD's queue (staff see only their own)")
async def queue(session: TenantSessionDep, who: Reader, opd_id: QueryId | None = None):
    if who.opd_id is not None:
        opd_id = who.opd_id
    elif opd_id is None:
        raise Forbidden("opd_id wajib untuk pengguna non-OPD")
    rows = await service.opd_queue(session, opd_id)
    return [
        {
            "dispatch": {
                **calls.columns(r["dispatch"]),
                "opd_code": r["opd_code"],
                "opd_name": r["opd_name"],
            },
            "incident_id": r["incident"].id,
            "category_name": r["category_name"],
            "priority": r["incident"].priority,
            "address": r["incident"].address,
            "kecamatan": r["incident"].kecamatan,
            "description": r["incident"].description,
            "lat": r["incident"].lat,
            "lon": r["incident"].lon,
        }
        for r in rows
    ]
