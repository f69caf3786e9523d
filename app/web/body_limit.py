"""A request-body cap on every route (``MAX_BODY_BYTES``), before anything parses the body.

Without it an 11.9 MB JSON body was parsed in full and produced an 88 MB validation error. A
declared ``Content-Length`` over the cap is refused at once; a chunked body is counted as it
arrives and refused when it passes the cap. Pure ASGI, so SSE streams are untouched.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException

TOO_LARGE = "Isi permintaan terlalu besar (request body too large)"
# Upload forms that check the declared length themselves, before reading, and answer with the
# message beside the file field: the cap does not pre-empt them on Content-Length, but still
# counts what actually arrives.
OWN_LENGTH_CHECK = re.compile(r"^(/signup/step/3|/t/[^/]+/admin/application)$")


def _too_large(limit: int) -> HTTPException:
    return HTTPException(status_code=413, detail=f"{TOO_LARGE}: maksimal {limit // 1024} KB")


class BodyLimitMiddleware:
    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and not OWN_LENGTH_CHECK.match(scope.get("path", "")):
            text = declared.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()) or int(text) > self.max_bytes:
                status = 413 if text.isascii() and text.isdigit() else 400
                detail = _too_large(self.max_bytes).detail if status == 413 else "Content-Length tidak valid"
                await _reply(send, status, detail)
                return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Raised inside the route's body read: the app's handler turns it into a 413.
                    raise _too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
