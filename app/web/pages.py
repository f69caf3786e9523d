"""Pages that belong to no single domain: the landing page and health checks."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from app.tenancy.models import Tenant
from app.web.deps import PublicSessionDep
from app.web.templating import render

router = APIRouter(tags=["pages"])


@router.get("/", include_in_schema=False)
async def landing(request: Request, session: PublicSessionDep):
    tenants = (
        await session.execute(select(Tenant).where(Tenant.status.in_(("active", "verified"))).order_by(Tenant.name))
    ).scalars().all()
    return render(request, "landing.html", {"tenants": tenants})


@router.get("/healthz", tags=["ops"])
async def healthz(request: Request):
    """Liveness and readiness: the database and Redis both answer."""
    checks = {}
    try:
        async with request.app.state.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: this endpoint is for load balancers
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await request.app.state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)
