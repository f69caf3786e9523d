"""Binding a request to a tenant by host name: ``solok.112.example.id/x`` → ``/t/solok/x``."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.db.tenancy import SLUG_RE

UNTOUCHED_PREFIXES = ("/t/", "/static/", "/api/", "/healthz", "/readyz")


class TenantHostMiddleware:
    def __init__(self, app: ASGIApp, domain: str):
        self.app = app
        self.suffix = "." + domain.lower().strip(".") if domain else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.suffix and scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").split(":")[0].lower()
            path: str = scope["path"]
            if host.endswith(self.suffix) and not path.startswith(UNTOUCHED_PREFIXES):
                slug = host[: -len(self.suffix)]
                if SLUG_RE.fullmatch(slug):
                    scope = dict(scope)
                    scope["path"] = f"/t/{slug}{path}"
                    scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)
