"""What the integrator's signed endpoints share: the telephony webhook and AML (app.telephony.api),
recordings (app.recordings.api) and text-to-112 (app.conversations.api).

The body cap, the HMAC check, the strict parse and the integrator's service ``Ctx`` live here, not in
one of those routers, so no router module imports another (a contract in pyproject.toml).
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.bounds import ascii_digits
from app.calls.service import Ctx
from app.core.tenant import TenantInfo
from app.security.proxies import origin_of
from app.telephony import service
from app.telephony.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Loader,
    SignatureError,
    from_session,
    secret_cache,
)

log = logging.getLogger("app.telephony.api")  # the name the refusals were always logged under
MAX_BODY = 16 * 1024


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and ascii_digits(declared) and int(declared) > MAX_BODY:
        raise HTTPException(413, f"Body terlalu besar (maks {MAX_BODY} byte)")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"Body terlalu besar (maks {MAX_BODY} byte)")
    return body


async def verify_signature(request: Request, source: AsyncSession | Loader, slug: str, body: bytes) -> None:
    """``source``: the request's tenant session (other signed endpoints), or a loader (the call-event
    webhook, which opens no session: ``from_database``)."""
    load = from_session(source) if isinstance(source, AsyncSession) else source
    try:
        await secret_cache.verify(
            load, slug, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body
        )
    except SignatureError as exc:
        log.warning("telephony request refused for %s: %s", slug, exc.message)
        raise HTTPException(exc.status, exc.message) from None


def parse(model: type[BaseModel], body: bytes):
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


def integrator_ctx(request: Request, session: AsyncSession, tenant: TenantInfo) -> Ctx:
    return Ctx(
        session=session,
        tenant=tenant,
        actor=service.INTEGRATOR,
        redis=request.app.state.redis,
        origin=origin_of(request),
    )
