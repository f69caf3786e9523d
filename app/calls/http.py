"""Turning service errors into HTTP answers, and building a service Ctx from a request."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls import idempotency
from app.calls.service import Ctx
from app.core.errors import InvalidInput, ServiceError
from app.core.principal import Principal
from app.security.proxies import origin_of
from app.web.errors import Conflict, Forbidden, NotFound


def make_ctx(request: Request, session: AsyncSession, principal: Principal, key: str | None = None) -> Ctx:
    tenant = request.state.tenant
    return Ctx(
        session=session,
        tenant=tenant,
        actor=principal,
        redis=request.app.state.redis,
        origin=origin_of(request),
        idempotency_key=key,
    )


@contextmanager
def service_errors() -> Iterator[None]:
    """422 (same shape as schema errors: field + message), 404, 409, 403."""
    try:
        yield
    except InvalidInput as exc:
        raise RequestValidationError(
            [{"loc": ("body", exc.field), "msg": exc.message, "type": "value_error"}]
        ) from exc
    except ServiceError as exc:
        cls = {404: NotFound, 409: Conflict, 403: Forbidden}.get(exc.status)
        if cls is None:
            raise RequestValidationError(
                [{"loc": ("body",), "msg": exc.message, "type": "value_error"}]
            ) from exc
        raise cls(exc.message) from exc


# A client's retry key (RFC draft "The Idempotency-Key HTTP Header Field"): the same key twice
# means the same request, answered with what the first one created.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="retry key: a repeat returns the stored result (200) and writes nothing",
    ),
]


async def idempotent(
    response: Response,
    session: AsyncSession,
    scope: str,
    key: str | None,
    create: Callable[[], Awaitable[Any]],
    load: Callable[[list[int]], Awaitable[Any]],
):
    """``create()`` (201) unless ``key`` was used before in ``scope``: then ``load(ids)`` of what
    the first request created, with 200. A repeat that lost a race (``Repeated``), or that a
    check refused because the first one already did the work (a 409 "already attached/sent"),
    is answered the same way once the first one's key is visible."""
    ids = await idempotency.stored(session, scope, key)
    if ids is not None:
        response.status_code = 200
        return await load(ids)
    try:
        with service_errors():
            return await create()
    except Exception as exc:
        if key is None:
            raise
        await session.rollback()
        ids = (
            exc.ids
            if isinstance(exc, idempotency.Repeated)
            else await idempotency.stored(session, scope, key)
        )
        if ids is None:
            raise
        response.status_code = 200
        return await load(ids)


def with_key(data, key: str | None):
    """A call's idempotency key is its ``external_id``; the header may give it instead."""
    if key is None:
        return data
    if data.external_id is not None and data.external_id != key:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "Idempotency-Key"),
                    "msg": "Idempotency-Key berbeda dengan external_id: kirim salah satu saja",
                    "type": "value_error",
                }
            ]
        )
    return data.model_copy(update={"external_id": key})


def toast_json(body: dict[str, Any], status: int, message: str) -> JSONResponse:
    """A JSON answer for an htmx action whose outcome the console shows as a toast."""
    return JSONResponse(body, status_code=status, headers={"HX-Trigger": json.dumps({"showToast": message})})


def toast_error(exc: ServiceError) -> JSONResponse:
    return toast_json({"detail": exc.message}, exc.status, exc.message)
