"""Pages that belong to no single domain: the landing page and health checks.

``/healthz`` (liveness, container HEALTHCHECK): the database and Redis answer.
``/readyz`` (readiness, load balancer target group): the same, plus the public schema is at this
code's Alembic head, so a task built from new code never takes traffic before `siaga112 db
upgrade` ran. Tenant schemas still behind are reported (count) but do not fail readiness: a
fleet migration is resumable and per tenant, and one slow tenant must not take the fleet down.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from app import namespace
from app.core.cache import TtlCache
from app.db.migrate import head_revision, tenant_versions
from app.tenancy.models import Tenant
from app.web.deps import PublicSessionDep
from app.web.templating import render

router = APIRouter(tags=["pages"])


@router.get("/", include_in_schema=False)
async def landing(request: Request, session: PublicSessionDep):
    tenants = (
        (
            await session.execute(
                select(Tenant).where(Tenant.status.in_(("active", "verified"))).order_by(Tenant.name)
            )
        )
        .scalars()
        .all()
    )
    return render(request, "landing.html", {"tenants": tenants})


async def _dependency_checks(request: Request) -> dict[str, str]:
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
    return checks


async def _worker_heartbeat(request: Request) -> str:
    """Whether an arq worker of this deployment refreshed its health key lately (arq keeps it
    for ``health_check_interval`` + 1 s). Reported, never failing the web probes: a web task
    must not be killed because the worker is down; the report says what is degraded."""
    try:
        key = namespace.of(request.app.state.redis) + ":arq:queue:health-check"
        return "ok" if await request.app.state.redis.exists(key) else "no heartbeat (worker down or starting)"
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"


def _answer(checks: dict, worker: str = "ok", **extra) -> JSONResponse:
    healthy = all(v == "ok" for v in checks.values())
    degraded = [k for k, v in {**checks, "worker": worker}.items() if v != "ok"]
    return JSONResponse(
        {
            "status": "ok" if not degraded else "degraded",
            **checks,
            "worker": worker,
            "degraded": degraded,
            **extra,
        },
        status_code=200 if healthy else 503,
        headers={"cache-control": "no-store"},
    )


@router.get("/healthz", tags=["ops"])
async def healthz(request: Request):
    """Liveness: the database and Redis both answer."""
    return _answer(await _dependency_checks(request), await _worker_heartbeat(request))


_BEHIND_TTL_S = 30.0
_behind: TtlCache[int] = TtlCache(_BEHIND_TTL_S, maxsize=8)


async def _tenants_behind(request: Request, conn) -> int:
    """Tenant schemas not at head; recounted at most every 30 s (probes come every few seconds)."""

    async def count() -> int:
        head = head_revision("tenant")
        return sum(1 for v in (await conn.run_sync(tenant_versions)).values() if v != head)

    return await _behind.get_or_load(id(request.app), count)


@router.get("/readyz", tags=["ops"])
async def readyz(request: Request):
    """Readiness: dependencies answer and the public schema is at this code's migration head."""
    checks = await _dependency_checks(request)
    extra = {}
    if checks["database"] == "ok":
        try:
            head = head_revision("public")
            async with request.app.state.db.engine.connect() as conn:
                current = (
                    await conn.execute(text("SELECT version_num FROM public.alembic_version"))
                ).scalar()
                extra["tenants_behind"] = await _tenants_behind(request, conn)
            checks["migrations"] = (
                "ok" if current == head else f"error: public at {current}, code needs {head}"
            )
        except Exception as exc:
            checks["migrations"] = f"error: {type(exc).__name__}"
    else:
        checks["migrations"] = "unknown"
    return _answer(checks, await _worker_heartbeat(request), **extra)
