"""Security headers on every response (pure ASGI, so SSE streams pass through untouched).

The CSP allows only our own scripts/styles and the map tile servers the platform operator
configured (app.tenancy.mapview): an injected ``<script>`` or inline handler does not run, and no
page can be framed (clickjacking of the dispatch console).
"""

from __future__ import annotations


def csp(img_origins: tuple[str, ...] | list[str] = ()) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # style="" attributes only (bar widths, legend colours); <style> blocks stay forbidden.
            "style-src-attr 'unsafe-inline'",
            " ".join(["img-src 'self' data:", *img_origins]),
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CSP = csp()  # with no tile server configured


class SecurityHeadersMiddleware:
    def __init__(self, app, hsts: bool = False, img_origins: tuple[str, ...] | list[str] = ()):
        self.app = app
        headers = [
            (b"content-security-policy", csp(img_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(self)"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = headers
        self.names = {name for name, _ in headers}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                existing = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
                message = {**message, "headers": existing + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
