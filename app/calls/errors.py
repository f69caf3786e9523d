"""Errors the call and dispatch services raise; web layers map them to HTTP (see app/calls/http.py).

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
