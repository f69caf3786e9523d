"""The one error hierarchy of the services; web layers map it to HTTP (app/calls/http.py for the
JSON API, the views beside the form field).

Kept free of FastAPI so jobs, telephony and the CLI can call the services too.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    """Illegal or stale state change (a dispatch already moved on, a call already attached)."""

    status = 409


class DeniedError(ServiceError):
    status = 403


class InvalidInput(ServiceError):
    """Input that passed the schema but not the database facts (unknown category, foreign call id)."""

    status = 422

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class FieldErrors(ServiceError):
    """Several fields refused at once (a form or a filter): ``errors`` maps field → message."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
