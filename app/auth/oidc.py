"""OpenID Connect login (authorization code + PKCE) with Authlib, for any configured issuer.

Providers are configured at run time per tenant, so this uses Authlib's httpx client directly
rather than a registry of static clients. Everything the ID token asserts is checked: signature
(issuer's JWKS), ``iss``, ``aud``/``azp``, ``exp``/``iat``, and the ``nonce`` bound to the
browser session; ``state`` is checked by the caller before the code is exchanged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.core.cache import TtlCache

SCOPE = "openid email profile"
TIMEOUT_S = 8.0  # a plain number: Authlib's client is httpx2, discovery uses httpx
_DISCOVERY_TTL_S = 600
_discovery_cache: TtlCache[dict] = TtlCache(_DISCOVERY_TTL_S, maxsize=64)


class OidcError(Exception):
    """The provider or its answer cannot be trusted; the message is safe to show to the user."""


@dataclass(frozen=True)
class Flow:
    """What the browser session must remember between redirect and callback."""

    state: str
    nonce: str
    code_verifier: str
    url: str


async def discover(issuer: str, *, fresh: bool = False) -> dict:
    issuer = issuer.rstrip("/")
    return await _discovery_cache.get_or_load(issuer, lambda: _fetch_metadata(issuer), fresh=fresh)


async def _fetch_metadata(issuer: str) -> dict:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            resp = await client.get(f"{issuer}/.well-known/openid-configuration")
            resp.raise_for_status()
            meta = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError(f"Penyedia SSO tidak dapat dihubungi ({type(exc).__name__})") from exc
    if not isinstance(meta, dict) or meta.get("issuer", "").rstrip("/") != issuer:
        raise OidcError("Konfigurasi penyedia SSO tidak cocok dengan issuer yang didaftarkan")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise OidcError(f"Konfigurasi penyedia SSO tidak lengkap ({key})")
    return meta


async def start(issuer: str, client_id: str, redirect_uri: str) -> Flow:
    meta = await discover(issuer)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    client = AsyncOAuth2Client(client_id=client_id, redirect_uri=redirect_uri, scope=SCOPE)
    url, _ = client.create_authorization_url(
        meta["authorization_endpoint"],
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return Flow(state, nonce, verifier, url)


async def finish(
    issuer: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    *,
    code: str,
    code_verifier: str,
    nonce: str,
) -> dict:
    """Exchange the code and return the verified ID-token claims (merged with userinfo)."""
    meta = await discover(issuer)
    try:
        async with AsyncOAuth2Client(
            client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri, timeout=TIMEOUT_S
        ) as client:
            token = await client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=code_verifier,
                grant_type="authorization_code",
            )
            jwks = (await client.get(meta["jwks_uri"])).raise_for_status().json()
            claims = _verify_id_token(token.get("id_token"), jwks, issuer.rstrip("/"), client_id, nonce)
            if "email" not in claims and meta.get("userinfo_endpoint"):
                info = (await client.get(meta["userinfo_endpoint"])).raise_for_status().json()
                if info.get("sub") == claims["sub"]:
                    claims = {**info, **claims}
    except OidcError:
        raise
    except Exception as exc:  # network/protocol errors from the provider: refuse the login, never 500
        reason = getattr(exc, "error", None) or type(exc).__name__
        raise OidcError(f"Penukaran kode SSO gagal ({str(reason)[:80]})") from exc
    return claims


def _verify_id_token(id_token: str | None, jwks: dict, issuer: str, client_id: str, nonce: str) -> dict:
    if not id_token:
        raise OidcError("Penyedia SSO tidak mengirim ID token")
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # the provider's JSON; joserfc checks its shape
        decoded = jwt.decode(id_token, keys, algorithms=["RS256", "PS256", "ES256"])
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcError(f"ID token SSO tidak sah ({type(exc).__name__})") from exc
    claims = decoded.claims
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != client_id):
        raise OidcError("ID token SSO bukan untuk aplikasi ini (audience)")
    return claims


def verified_email(claims: dict) -> str | None:
    """Only an address the provider vouches for (email_verified) can map to an account."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return None
    return email.strip().lower()
