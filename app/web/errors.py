"""Errors that routes raise; app.main turns them into JSON for the API and pages for people."""

from __future__ import annotations

from fastapi import HTTPException


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
