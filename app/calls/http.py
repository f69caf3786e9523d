"""Turning service errors into HTTP answers, and building a service Ctx from a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.calls.errors import InvalidInput, ServiceError
from app.calls.service import Ctx
from app.web.errors import Conflict, Forbidden, NotFound


def make_ctx(request: Request, session: AsyncSession, principal: Principal) -> Ctx:
    tenant = request.state.tenant
    return Ctx(
        session=session,
        tenant=tenant.slug,
        actor=principal,
        redis=request.app.state.redis,
        request=request,
        region_code=tenant.region_code,
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
