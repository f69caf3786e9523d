"""Local protocol peers for the channel adapters: each implements the provider's documented
endpoint and VALIDATES what it receives (auth, payload shape, signatures, encryption); anything
wrong is answered the way the provider answers it (401, 400, status "0"), never accepted.

* WhatsApp Cloud API  POST /{phone_number_id}/messages (Bearer token; template/text payload)
* Telegram Bot API    POST /bot<token>/sendMessage, /bot<token>/answerCallbackQuery
* SMS gateway         POST /reguler/api/sendsms/ (Zenziva shape: form userkey, passkey, to, message)
* Web Push service    POST /push/<id>: verifies the VAPID JWT (ES256, aud, exp, sub) against k=,
                      then decrypts the aes128gcm body with the subscription's private key + auth
* SMTP                aiosmtpd with AUTH PLAIN/LOGIN checked against one account
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WA_TOKEN = "EAAG-uji-token-wa"
WA_PHONE_ID = "1029384756"
WA_APP_SECRET = "rahasia-aplikasi-meta"
TG_TOKEN = "123456:ABC-uji-bot"
SMS_USERKEY, SMS_PASSKEY = "uk-uji", "pk-uji"
SMTP_USER, SMTP_PASSWORD = "siaga@uji.id", "sandi-smtp-uji"


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@dataclass
class Peer:
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses to answer before succeeding
    delay_s: float = 0.0
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.received.clear()
        self.rejected.clear()
        self.fail_next.clear()
        self.delay_s = 0.0


# --- WhatsApp -------------------------------------------------------------------------------------

WA = Peer()


def _wa_error(status: int, code: int, message: str) -> JSONResponse:
    WA.rejected.append(message)
    return JSONResponse(
        {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "uji"}},
        status_code=status,
    )


def _check_wa_payload(doc: dict) -> str | None:
    if doc.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    to = doc.get("to", "")
    if not (isinstance(to, str) and to.isdigit() and 8 <= len(to) <= 15):
        return "to must be digits in international format"
    if doc.get("type") == "text":
        body = (doc.get("text") or {}).get("body")
        return None if isinstance(body, str) and 0 < len(body) <= 4096 else "text.body"
    if doc.get("type") != "template":
        return "type must be template or text"
    t = doc.get("template") or {}
    if not t.get("name") or not (t.get("language") or {}).get("code"):
        return "template.name and template.language.code are required"
    for comp in t.get("components", []):
        if comp.get("type") == "body":
            for p in comp.get("parameters", []):
                if p.get("type") != "text" or not isinstance(p.get("text"), str) or not p["text"]:
                    return "body parameters must be non-empty text"
        elif comp.get("type") == "button":
            if comp.get("sub_type") not in ("quick_reply", "url") or not str(comp.get("index", "")).isdigit():
                return "button sub_type/index"
            for p in comp.get("parameters", []):
                if comp["sub_type"] == "quick_reply" and (p.get("type") != "payload" or not p.get("payload")):
                    return "quick_reply needs a payload parameter"
                if comp["sub_type"] == "url" and (p.get("type") != "text" or not p.get("text")):
                    return "url button needs a text parameter"
        else:
            return f"unknown component {comp.get('type')}"
    return None


async def wa_messages(request: Request) -> Response:
    if request.headers.get("authorization") != f"Bearer {WA_TOKEN}":
        return _wa_error(401, 190, "Invalid OAuth access token.")
    if request.path_params["phone_id"] != WA_PHONE_ID:
        return _wa_error(400, 100, "Unsupported post request: unknown phone number id")
    if WA.fail_next:
        return _wa_error(WA.fail_next.pop(0), 131000, "Something went wrong")
    try:
        doc = await request.json()
    except ValueError:
        return _wa_error(400, 100, "body is not JSON")
    problem = _check_wa_payload(doc)
    if problem:
        return _wa_error(400, 100, f"(#100) Invalid parameter: {problem}")
    wamid = f"wamid.UJI{next(WA.ids):06d}"
    WA.received.append({"id": wamid, **doc})
    return JSONResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": doc["to"], "wa_id": doc["to"]}],
            "messages": [{"id": wamid}],
        }
    )


# --- Telegram --------------------------------------------------------------------------------------

TG = Peer()


async def tg_method(request: Request) -> Response:
    token, method = request.path_params["token"], request.path_params["method"]
    if token != TG_TOKEN:
        TG.rejected.append("token")
        return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
    if TG.fail_next:
        code = TG.fail_next.pop(0)
        body: dict[str, Any] = {
            "ok": False,
            "error_code": code,
            "description": "Too Many Requests: retry after 1",
        }
        if code == 429:
            body["parameters"] = {"retry_after": 1}
        return JSONResponse(body, status_code=code)
    doc = await request.json()
    if method == "sendMessage":
        chat, text = doc.get("chat_id"), doc.get("text")
        if chat in (None, "") or not isinstance(text, str) or not (1 <= len(text) <= 4096):
            TG.rejected.append("chat_id/text")
            return JSONResponse(
                {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
                status_code=400,
            )
        for row in (doc.get("reply_markup") or {}).get("inline_keyboard", []):
            for b in row:
                kinds = [k for k in ("callback_data", "url") if k in b]
                if not b.get("text") or len(kinds) != 1:
                    TG.rejected.append("button")
                    return JSONResponse(
                        {
                            "ok": False,
                            "error_code": 400,
                            "description": "Bad Request: can't parse inline keyboard button",
                        },
                        status_code=400,
                    )
                if "callback_data" in b and not (1 <= len(b["callback_data"].encode()) <= 64):
                    TG.rejected.append("callback_data")
                    return JSONResponse(
                        {"ok": False, "error_code": 400, "description": "Bad Request: BUTTON_DATA_INVALID"},
                        status_code=400,
                    )
                if "url" in b and urlsplit(b["url"]).scheme not in ("http", "https", "tg"):
                    return JSONResponse(
                        {"ok": False, "error_code": 400, "description": "Bad Request: wrong HTTP URL"},
                        status_code=400,
                    )
        mid = next(TG.ids)
        TG.received.append({"method": method, "message_id": mid, **doc})
        return JSONResponse(
            {
                "ok": True,
                "result": {
                    "message_id": mid,
                    "date": int(time.time()),
                    "chat": {"id": int(chat) if str(chat).lstrip("-").isdigit() else chat, "type": "private"},
                    "text": text,
                },
            }
        )
    if method == "answerCallbackQuery":
        if not doc.get("callback_query_id"):
            return JSONResponse(
                {"ok": False, "error_code": 400, "description": "Bad Request: query id invalid"},
                status_code=400,
            )
        TG.received.append({"method": method, **doc})
        return JSONResponse({"ok": True, "result": True})
    return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)


# --- SMS (Zenziva shape) ----------------------------------------------------------------------------

SMS = Peer()


async def sms_send(request: Request) -> Response:
    if SMS.fail_next:
        return Response("Service Unavailable", status_code=SMS.fail_next.pop(0))
    form = await request.form()
    if form.get("userkey") != SMS_USERKEY or form.get("passkey") != SMS_PASSKEY:
        SMS.rejected.append("auth")
        return JSONResponse({"status": "0", "text": "Userkey / Passkey Salah"})
    to, message = str(form.get("to", "")), str(form.get("message", ""))
    if not (to.startswith("08") and to.isdigit() and 10 <= len(to) <= 14) or not message:
        SMS.rejected.append("to/message")
        return JSONResponse({"status": "0", "text": "Nomor tujuan tidak valid"})
    mid = f"{next(SMS.ids):08d}"
    SMS.received.append({"messageId": mid, "to": to, "message": message})
    return JSONResponse({"messageId": mid, "to": to, "status": "1", "text": "Success"})


# --- Web Push -------------------------------------------------------------------------------------


@dataclass
class PushPeer(Peer):
    subscriptions: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = field(default_factory=dict)
    base: str = ""

    def subscribe(self) -> dict[str, Any]:
        """What a browser's pushManager.subscribe() returns for this service."""
        sid = f"s{next(self.ids)}"
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self.subscriptions[sid] = (key, auth)
        pub = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
        return {"endpoint": f"{self.base}/push/{sid}", "keys": {"p256dh": enc(pub), "auth": enc(auth)}}


PUSH = PushPeer()


def verify_vapid(header: str, audience: str) -> str | None:
    """None if the RFC 8292 Authorization header is valid for ``audience``, else the reason."""
    if not header.startswith("vapid "):
        return "scheme must be vapid"
    params = dict(p.strip().split("=", 1) for p in header[6:].split(","))
    token, k = params.get("t", ""), params.get("k", "")
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
        head, claims = json.loads(b64url_decode(head_b64)), json.loads(b64url_decode(claims_b64))
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(k))
    except (ValueError, KeyError):
        return "malformed token"
    if head.get("alg") != "ES256":
        return "alg must be ES256"
    raw = b64url_decode(sig_b64)
    if len(raw) != 64:
        return "signature must be 64 bytes (r||s)"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        pub.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad signature"
    if claims.get("aud") != audience:
        return f"aud {claims.get('aud')} != {audience}"
    if not (time.time() < int(claims.get("exp", 0)) <= time.time() + 24 * 3600):
        return "exp must be in the next 24 h"
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        return "sub must be mailto: or https:"
    return None


async def push_receive(request: Request) -> Response:
    sid = request.path_params["sid"]
    if sid not in PUSH.subscriptions:
        return Response(status_code=410)
    problem = verify_vapid(request.headers.get("authorization", ""), PUSH.base)
    if problem is None and request.headers.get("content-encoding") != "aes128gcm":
        problem = "Content-Encoding must be aes128gcm"
    if problem is None and not request.headers.get("ttl", "").isdigit():
        problem = "TTL header required"
    if problem:
        PUSH.rejected.append(problem)
        return JSONResponse(
            {"reason": problem},
            status_code=401
            if "vapid" in problem or "token" in problem or "sign" in problem or "aud" in problem
            else 400,
        )
    key, auth = PUSH.subscriptions[sid]
    try:
        plain = http_ece.decrypt(await request.body(), private_key=key, auth_secret=auth, version="aes128gcm")
    except Exception as exc:
        PUSH.rejected.append(f"decrypt: {exc}")
        return JSONResponse({"reason": "cannot decrypt"}, status_code=400)
    mid = next(PUSH.ids)
    PUSH.received.append(
        {"sid": sid, "payload": json.loads(plain), "urgency": request.headers.get("urgency")}
    )
    return Response(status_code=201, headers={"Location": f"{PUSH.base}/msg/{mid}"})


def provider_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/graph/{phone_id}/messages", wa_messages, methods=["POST"]),
            Route("/tg/bot{token}/{method}", tg_method, methods=["POST"]),
            Route("/reguler/api/sendsms/", sms_send, methods=["POST"]),
            Route("/push/{sid}", push_receive, methods=["POST"]),
        ]
    )


# --- SMTP -----------------------------------------------------------------------------------------


class SmtpPeer:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.auth_failures = 0

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default)))
        return "250 OK"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == SMTP_USER
            and auth_data.password.decode() == SMTP_PASSWORD
        )
        if not ok:
            self.auth_failures += 1
        return AuthResult(success=ok)
