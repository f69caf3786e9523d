"""Local stand-ins for the citizen-facing providers, implementing their documented HTTP contract
and VALIDATING what they receive (a request that breaks the contract gets the provider's error):

- WhatsApp Business Cloud API ``POST /<version>/<phone-number-id>/messages`` (Bearer token,
  ``messaging_product`` = whatsapp, digits-only ``to``, ``type`` text with ``text.body``);
- the SMS integrator's send endpoint, signed like its webhooks (X-Siaga112-Timestamp/-Signature).
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.telephony.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.servers import served

WA_TOKEN = "EAAtest-token-for-siaga112"
WA_PHONE_ID = "106540352242922"
SMS_SECRET = "sms-gateway-test-secret"


class Providers:
    def __init__(self):
        self.whatsapp: list[dict] = []
        self.sms: list[dict] = []
        self.fail_next = False

    def app(self) -> Starlette:
        async def wa_messages(request: Request):
            if request.path_params["phone_id"] != WA_PHONE_ID:
                return _graph_error(400, "Unsupported post request. Object with ID does not exist", 100)
            if request.headers.get("authorization") != f"Bearer {WA_TOKEN}":
                return _graph_error(401, "Invalid OAuth access token.", 190)
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _graph_error(400, "Invalid JSON", 100)
            problems = []
            if body.get("messaging_product") != "whatsapp":
                problems.append("messaging_product")
            if not str(body.get("to", "")).isdigit():
                problems.append("to")
            if body.get("type") != "text" or not isinstance(body.get("text"), dict):
                problems.append("type/text")
            elif not body["text"].get("body") or len(body["text"]["body"]) > 4096:
                problems.append("text.body")
            if problems:
                return _graph_error(400, f"(#100) Invalid parameter: {', '.join(problems)}", 100)
            if self.fail_next:
                self.fail_next = False
                return _graph_error(500, "Service temporarily unavailable", 2)
            wamid = f"wamid.{uuid.uuid4().hex}"
            self.whatsapp.append({**body, "id": wamid})
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": wamid}],
                }
            )

        async def sms_send(request: Request):
            raw = await request.body()
            ts, sig = request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER)
            if not ts or not sig or abs(time.time() - int(ts)) > 300 or sign(SMS_SECRET, ts, raw) != sig:
                return JSONResponse({"error": "bad signature"}, status_code=401)
            body = json.loads(raw)
            if set(body) != {"to", "text", "client_ref"} or not body["to"].startswith("+"):
                return JSONResponse({"error": "bad payload"}, status_code=422)
            mid = f"sms-{uuid.uuid4().hex[:10]}"
            self.sms.append({**body, "message_id": mid})
            return JSONResponse({"message_id": mid}, status_code=202)

        return Starlette(
            routes=[
                Route("/v19.0/{phone_id}/messages", wa_messages, methods=["POST"]),
                Route("/sms/send", sms_send, methods=["POST"]),
            ]
        )


def _graph_error(status: int, message: str, code: int) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "test"}},
        status_code=status,
    )


@contextmanager
def providers_env(monkeypatch):
    """Serve the stand-ins and point Siaga112's outbound settings at them."""
    p = Providers()
    with served(p.app()) as url:
        monkeypatch.setenv("WHATSAPP_API_BASE", f"{url}/v19.0")
        monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", WA_PHONE_ID)
        monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", WA_TOKEN)
        monkeypatch.setenv("SMS_GATEWAY_URL", f"{url}/sms/send")
        monkeypatch.setenv("SMS_GATEWAY_SECRET", SMS_SECRET)
        yield p
