"""The OpenAPI document at /openapi.json: the JSON API only, described as it really answers.

* Only ``/api/`` routes: the HTML pages and CSV downloads are not part of the JSON contract.
* Errors as app.main returns them: ``{"detail": …}`` (``Error``) and, for 422, ``{"detail": …,
  "errors": [{"field", "message", "type"}, …]}`` (``ValidationFailed``) — not FastAPI's
  ``HTTPValidationError``, which the app never sends.
* Every status a route can return: 401 (no/invalid credentials), 403 (role, scope, suspended
  regency), 404 (unknown regency or object), 409 (a write that lost a race), 413 (body over
  MAX_BODY_BYTES), 422 (validation), 503 (a dependency is down; Retry-After), plus the route's own.
* Integer bounds are the columns' (app.web.params, app.bounds.INT4_MAX), set on the parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.web.routes_index import iter_routes

ERROR = {
    "type": "object",
    "title": "Error",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What went wrong (Bahasa Indonesia)"}},
}
VALIDATION_FAILED = {
    "type": "object",
    "title": "ValidationFailed",
    "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "title": "FieldError",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string", "minLength": 1, "description": "The field at fault"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
STATUSES = {
    "401": "Tidak ada atau tidak sah: sesi / token (login required)",
    "403": "Tidak berwenang: peran, izin token (scope), atau kabupaten/kota dinonaktifkan",
    "404": "Kabupaten/kota atau data tidak ditemukan",
    "413": "Isi permintaan melebihi batas (MAX_BODY_BYTES)",
    "422": "Data tidak valid; setiap galat menyebut field-nya",
    "503": "Layanan pendukung (basis data/Redis) tidak tersedia; coba lagi setelah Retry-After",
}
WRITE_STATUSES = {
    "400": "Content-Length tidak valid",
    "409": "Konflik: data sudah berubah oleh orang lain",
}


def _ref(name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR
    components["ValidationFailed"] = VALIDATION_FAILED
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            statuses = dict(STATUSES)
            if method in ("post", "put", "patch", "delete"):
                statuses.update(WRITE_STATUSES)
            if "{slug}" not in path and path.startswith("/api/v1/platform"):
                statuses.pop("404", None)
            for code, text in statuses.items():
                name = "ValidationFailed" if code == "422" else "Error"
                entry = {"description": text, "content": _ref(name)}
                if code == "503":
                    entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
                responses[code] = entry
    return schema


def install(app: FastAPI) -> None:
    """Keep HTML/CSV routes out of the document and serve the corrected one (built once)."""
    for path, _, route in iter_routes(app.routes):
        if not path.startswith("/api/"):
            route.include_in_schema = False  # type: ignore[attr-defined]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
