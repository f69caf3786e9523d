"""Errors that routes raise; app.main turns them into JSON for the API and pages for people."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from app.bounds import INT4_MAX, OutOfBounds
from app.web.routes_index import iter_routes

_LOCATIONS = ("body", "query", "path", "form", "header", "cookie")


class LoginRequired(HTTPException):
    def __init__(self, login_url: str):
        super().__init__(status_code=401, detail="Silakan masuk terlebih dahulu (login required)")
        self.login_url = login_url


class Forbidden(HTTPException):
    def __init__(self, detail: str = "Anda tidak berwenang untuk tindakan ini (forbidden)"):
        super().__init__(status_code=403, detail=detail)


class NotFound(HTTPException):
    def __init__(self, detail: str = "Tidak ditemukan (not found)"):
        super().__init__(status_code=404, detail=detail)


class Conflict(HTTPException):
    def __init__(self, detail: str):
        super().__init__(status_code=409, detail=detail)


def validation_response(detail: str, errors: list[dict]) -> JSONResponse:
    """Every 422 of the app: ``{"detail": …, "errors": [{"field", "message", "type"}, …]}``,
    at least one error, each naming its field (app.web.openapi documents this shape)."""
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


def field_error(e: dict[str, Any]) -> dict[str, str]:
    """One pydantic/FastAPI error as the API returns it. A model-level check names its field
    by raising app.bounds.OutOfBounds; otherwise the location ("body", "query") is the field."""
    loc = [str(p) for p in e.get("loc", ())]
    field = ".".join(p for p in loc if p not in _LOCATIONS)
    error = (e.get("ctx") or {}).get("error")
    message = e.get("msg", "")
    if isinstance(error, OutOfBounds):
        field = field or error.field
        message = error.message
    return {"field": field or (loc[0] if loc else "request"), "message": message, "type": e.get("type", "")}


def suspect_field(request: Request) -> str:
    """The parameter whose value the database refused (a NUL byte, an integer beyond int4)."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        text = str(value)
        digits = text.lstrip("-")
        if "\x00" in text or (
            digits.isascii() and digits.isdigit() and (len(digits) > 10 or int(digits) > INT4_MAX)
        ):
            return name
    return "request"


def allowed_methods(app: Any, path: str) -> str:
    """The ``Allow`` header for a 405: the methods of EVERY route with this path (Starlette
    names only the first route that matched the path, e.g. POST for GET+POST /calls)."""
    table = getattr(app.state, "route_methods", None)
    if table is None:
        from starlette.routing import compile_path

        table = [(compile_path(full)[0], methods) for full, methods, _ in iter_routes(app.routes)]
        app.state.route_methods = table
    methods: set[str] = set()
    for regex, route_methods in table:
        if regex.match(path):
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
