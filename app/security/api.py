"""``whoami`` endpoints: integrators check that a token works and what it may do, without side effects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.core.principal import Principal
from app.web.deps import ApiPrincipalDep, api_platform_principal

router = APIRouter(prefix="/api/v1", tags=["security"])


class WhoAmI(BaseModel):
    kind: str
    # For a personal token its owner's current role; "service" for a service token.
    role: str
    name: str
    tenant: str | None
    scopes: list[str]
    token_kind: str | None = None  # "service" | "personal" for tokens
    opd_id: int | None = None  # the agency a token (or OPD staff) is limited to


def _out(p: Principal) -> WhoAmI:
    return WhoAmI(
        kind=p.kind,
        role=p.role,
        name=p.name,
        tenant=p.tenant_slug,
        scopes=sorted(p.scopes),
        token_kind=p.token_kind,
        opd_id=p.opd_id,
    )


@router.get("/t/{slug}/whoami", response_model=WhoAmI)
async def tenant_whoami(principal: ApiPrincipalDep) -> WhoAmI:
    return _out(principal)


@router.get("/platform/whoami", response_model=WhoAmI)
async def platform_whoami(principal: Annotated[Principal, Depends(api_platform_principal)]) -> WhoAmI:
    return _out(principal)
