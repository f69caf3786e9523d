"""Application factory. Everything stateful (engine, Redis, arq pool) is built in the lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

import psycopg
from arq import create_pool
from arq.connections import RedisSettings
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from app import jobs, namespace
from app.bounds import OutOfBounds
from app.calls.intake import IntakeQueue
from app.channels.outbound import close_client
from app.config import STATIC_DIR, Settings, get_settings
from app.core.draining import DRAIN, ShuttingDown
from app.db.database import Database
from app.db.engine import make_async_engine
from app.db.models import PublicBase as _models_loaded  # noqa: F401  (fills metadata)
from app.domains import import_part
from app.events import load_subscribers
from app.national.views import keep_default_view_warm
from app.outage import REDIS_DOWN, RETRY_AFTER_S, which
from app.security import proxies
from app.telephony.intake import EventQueue
from app.tenancy.mapview import allowed_tile_origins
from app.tenancy.registry import TenantRegistry
from app.web import openapi, pages
from app.web.body_limit import BodyLimitMiddleware
from app.web.deps import session_user_loader
from app.web.draining import DrainMiddleware, unavailable_body, watch_exit_signals
from app.web.errors import LoginRequired, allowed_methods, field_error, suspect_field, validation_response
from app.web.hosts import TenantHostMiddleware
from app.web.security_headers import SecurityHeadersMiddleware
from app.web.templating import is_htmx, render

log = logging.getLogger(__name__)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def tune_gc(gen0_threshold: int) -> None:
    """Fewer cyclic-GC passes, none over what start-up built (config.gc_gen0_threshold says why)."""
    if gen0_threshold > 0:
        gc.collect()
        gc.freeze()  # modules, routes, compiled statements: never garbage, never scanned again
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)


# The first seconds of traffic build what lives as long as the process beyond start-up
# (compiled statements per tenant schema, route contexts, pools, caches). Measured with
# bench/call_intake.py's probe: the first full collection after start-up scanned all of it and
# stalled the process ≈ 450 ms (a CPU-starved machine). Frozen once warm, full passes skip it.
REFREEZE_AFTER_S = 20.0


async def freeze_when_warm(gen0_threshold: int, delay_s: float = REFREEZE_AFTER_S) -> None:
    """A second ``gc.freeze()`` once the process has served a while (only if tune_gc is on). No
    collection first (that would be the very pause this avoids): garbage alive at that moment
    stays, once, bounded by what the collector had not reached yet."""
    if gen0_threshold <= 0:
        return
    await asyncio.sleep(delay_s)
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL must be set (siaga112 serve sets them for the embedded default)"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        DRAIN.reset()
        watch_exit_signals(settings.graceful_shutdown_s)
        engine = make_async_engine(settings)
        app.state.db = Database(engine, prepare_threshold=settings.db_prepare_threshold)
        app.state.registry = TenantRegistry(engine, ttl_s=settings.tenant_cache_ttl_s)
        # One Redis client for everything (arq's pool is a redis-py client): a request's live
        # notice and SLA timer then share one pipeline after its commit (app.events).
        app.state.arq = namespace.tag(
            await create_pool(
                RedisSettings.from_dsn(settings.redis_url), default_queue_name=namespace.queue_name(settings)
            ),
            settings,
        )
        app.state.redis = app.state.arq
        jobs.set_queue(app.state.arq)
        app.state.intake = IntakeQueue(app.state.db, app.state.redis)
        app.state.session_users = session_user_loader(app.state.db)
        app.state.telephony = EventQueue(app.state.db, app.state.redis)
        warmer = asyncio.create_task(keep_default_view_warm(app.state.db), name="national-warmer")
        tune_gc(settings.gc_gen0_threshold)
        refreeze = asyncio.create_task(freeze_when_warm(settings.gc_gen0_threshold), name="gc-refreeze")
        try:
            yield
        finally:
            warmer.cancel()
            refreeze.cancel()
            await close_client()
            await app.state.intake.aclose()
            await app.state.telephony.aclose()
            await app.state.session_users.aclose()
            jobs.set_queue(None)
            await app.state.arq.aclose()
            await app.state.db.dispose()

    app = FastAPI(
        title="Siaga112 API",
        version="1",
        description="Multi-tenant platform for Indonesia's 112 emergency call centres (NTPD).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    load_subscribers()

    # Innermost of ours: a 413 still gets the security headers.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="siaga112_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=bool(settings.cookie_secure),
    )
    if settings.tenant_domain:
        app.add_middleware(TenantHostMiddleware, domain=settings.tenant_domain)
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=bool(settings.cookie_secure),
        img_origins=allowed_tile_origins(settings),
    )
    proxies.install(app, settings.trusted_proxies)  # everything after sees the real client
    app.add_middleware(DrainMiddleware)  # outermost: a shutting-down process answers 503, never silence

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _include_routers(app)
    _install_error_handlers(app)
    openapi.install(app)
    return app


# Intake routers first: a request is matched against the routes in order, and FastAPI's
# matching costs ≈ 5 µs a route; the telephony webhook, eleventh of the routers, paid ≈ 150 µs a
# request for it (more than its HMAC). No route of the other routers matches their paths.
HOT_ROUTERS = ("app.telephony.api", "app.calls.api")


def _include_routers(app: FastAPI) -> None:
    """Every domain's ``api.router`` (JSON under /api/v1) and ``views.router`` (HTML)."""
    app.include_router(pages.router)  # landing page, /healthz and /readyz (not a domain package)
    modules = [*import_part("api"), *import_part("views")]
    hot = {name: i for i, name in enumerate(HOT_ROUTERS)}
    modules.sort(key=lambda m: hot.get(m.__name__, len(hot)))  # stable: the rest in DOMAINS order
    for module in modules:
        app.include_router(module.router)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        if is_htmx(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=401, headers={"HX-Redirect": exc.login_url}
            )
        if _wants_html(request):
            return RedirectResponse(f"{exc.login_url}?next={request.url.path}", status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=401)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_html(request) and not is_htmx(request):
            return render(
                request,
                "error.html",
                {"status": exc.status_code, "detail": exc.detail},
                status_code=exc.status_code,
            )
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request.app, request.url.path)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers or None)

    outage_classes = (
        sa_exc.DBAPIError,  # the specific handlers (DataError) still win for their classes
        sa_exc.TimeoutError,
        psycopg.Error,
        PoolTimeout,
        *REDIS_DOWN,
    )

    async def outage(request: Request, exc: Exception):
        """PostgreSQL or Redis down: 503 + Retry-After, never a bare 500. Anything else of these
        classes (a constraint violation, a bug) is not an outage and stays a 500."""
        kind = which(exc)
        if kind is None:
            raise exc
        log.warning("%s unavailable during %s %s: %s", kind, request.method, request.url.path, exc)
        detail = (
            "Basis data sementara tidak dapat dihubungi"
            if kind == "database"
            else "Layanan antrean (Redis) sementara tidak dapat dihubungi"
        )
        detail += f"; coba lagi dalam {RETRY_AFTER_S} detik (service unavailable)."
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        if _wants_html(request) and not is_htmx(request):
            return render(
                request,
                "unavailable.html",
                {"detail": detail, "retry_after": RETRY_AFTER_S},
                status_code=503,
                headers=headers,
            )
        return JSONResponse(
            {"detail": detail, "unavailable": kind, "retry_after": RETRY_AFTER_S},
            status_code=503,
            headers=headers,
        )

    for cls in outage_classes:
        app.add_exception_handler(cls, outage)

    @app.exception_handler(ShuttingDown)
    async def shutting_down(request: Request, exc: ShuttingDown):
        """Past the shutdown grace: rolled back, nothing stored; the client retries elsewhere."""
        return Response(
            unavailable_body(),
            status_code=503,
            media_type="application/json",
            headers={"Retry-After": str(RETRY_AFTER_S), "Connection": "close"},
        )

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError):
        # Safety net (SQLSTATE class 22: out-of-range ids, NUL bytes, overlong text): bad input is a
        # 422, never a 500. The request's transaction was rolled back, so nothing was half-written.
        # Validation normally catches these first (app.bounds, app.web.params); this names the
        # parameter that carried the bad value, or "request" if none can be pinned down.
        return validation_response(
            "Data tidak valid (nilai di luar batas yang diizinkan)",
            [
                {
                    "field": suspect_field(request),
                    "message": "Nilai di luar batas yang diizinkan",
                    "type": "data_error",
                }
            ],
        )

    @app.exception_handler(OutOfBounds)
    async def out_of_bounds(request: Request, exc: OutOfBounds):
        return validation_response(
            "Data tidak valid (validation error)",
            [{"field": exc.field, "message": exc.message, "type": "value_error"}],
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return validation_response(
            "Data tidak valid (validation error)", [field_error(e) for e in exc.errors()]
        )
