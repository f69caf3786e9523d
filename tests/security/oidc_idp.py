"""A real OpenID Connect provider for tests, built on Authlib's server side.

Authorization code + PKCE + OIDC (``authlib.oauth2`` / ``authlib.oidc.core`` grants) behind a tiny
Starlette app served by uvicorn on a loopback port. ``/authorize`` auto-approves as
``idp.user``; ``idp.tamper`` makes it mint a bad ID token (wrong key/issuer/audience/nonce) so
the client's checks are exercised against real signed tokens.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers import served


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    user: dict
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class _Request(OAuth2Request):
    def __init__(self, method, uri, headers, query: dict, form: dict):
        super().__init__(method, uri, headers=headers)
        self._args, self._form = query, form
        self.payload = BasicOAuth2Payload({**query, **form})

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class TestIdP:
    __test__ = False

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.user: dict = {}
        self.tamper: str | None = None  # None | "key" | "issuer" | "audience" | "nonce"
        self.url = ""
        self.server = self._build_server()
        self.app = self._build_app()

    # --- Authlib server -------------------------------------------------------------------
    def _build_server(self) -> AuthorizationServer:
        idp = self

        class Server(AuthorizationServer):
            def query_client(self, client_id):
                return idp.clients.get(client_id)

            def save_token(self, token, request):
                pass

            def create_oauth2_request(self, request):
                return request

            def handle_response(self, status, body, headers):
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body, status_code=status, headers=dict(headers))

            def send_signal(self, name, *args, **kwargs):
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

            def save_authorization_code(self, code, request):
                idp.codes[code] = Code(
                    code,
                    request.client.get_client_id(),
                    request.payload.redirect_uri,
                    request.payload.scope,
                    request.payload.data.get("nonce"),
                    request.user,
                    request.payload.data.get("code_challenge"),
                    request.payload.data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                item = idp.codes.get(code)
                return item if item and item.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code):
                idp.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce, request):
                return any(c.nonce == nonce for c in idp.codes.values())

            def resolve_client_private_key(self, client):
                return (idp.rogue_key if idp.tamper == "key" else idp.key).as_dict(private=True)

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": "k1"}

            def get_client_claims(self, client):
                iss = "https://evil.example" if idp.tamper == "issuer" else idp.url
                aud = ["someone-else"] if idp.tamper == "audience" else [client.get_client_id()]
                return {"iss": iss, "aud": aud}

            def generate_user_info(self, user, scope):
                info = UserInfo(sub=user["sub"], name=user.get("name", ""))
                if "email" in scope:
                    info["email"] = user["email"]
                    info["email_verified"] = user.get("email_verified", True)
                if idp.tamper == "nonce":
                    info["nonce"] = "replayed-nonce"
                return info

        server = Server()
        server.register_token_generator(
            "default", BearerTokenGenerator(lambda *a, **k: secrets.token_urlsafe(32))
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)])
        return server

    # --- HTTP -----------------------------------------------------------------------------
    async def _request(self, request: Request) -> _Request:
        form = dict(await request.form()) if request.method == "POST" else {}
        return _Request(request.method, str(request.url), request.headers, dict(request.query_params), form)

    def _build_app(self) -> Starlette:
        async def discovery(request):
            return JSONResponse(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "userinfo_endpoint": f"{self.url}/userinfo",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def authorize(request):
            req = self.server.create_oauth2_request(await self._request(request))
            try:
                grant = self.server.get_authorization_grant(req)
            except OAuth2Error as error:
                return self.server.handle_error_response(req, error)
            return self.server.create_authorization_response(req, grant_user=dict(self.user), grant=grant)

        async def token(request):
            return self.server.create_token_response(await self._request(request))

        async def jwks(request):
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/jwks", jwks),
            ]
        )

    def register(self, client_id: str, redirect_uris: list[str]) -> Client:
        client = Client(client_id, secrets.token_urlsafe(24), redirect_uris)
        self.clients[client_id] = client
        return client

    @contextmanager
    def serving(self) -> Iterator[TestIdP]:
        """The provider on a free loopback port (its issuer URL is that address) until the block ends."""
        with served(self.app) as url:
            self.url = url
            yield self
