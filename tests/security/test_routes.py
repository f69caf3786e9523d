"""Every route, automatically: no session, wrong role, no CSRF, malformed input.

Routes are enumerated with iter_routes, roles are read from the route's own dependencies
(tenant_roles / platform_roles / api_*_access), so a new route is covered without editing this
file. "Nothing changed" = identical row counts of every table in the tenant schema and public.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import text

from app.auth.models import TENANT_ROLES
from app.web.csrf import verify_csrf
from app.web.routes_index import iter_routes
from tests.conftest import csrf_of, login
from tests.security.conftest import platform_login

# Reachable without a session by design (each is still checked: never a 500).
PUBLIC = {
    "/",
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/login",
    "/t/{slug}/login",
    "/login/sso",
    "/login/sso/callback",
    "/t/{slug}/sso/login",
    "/t/{slug}/sso/callback",
    "/t/{slug}/account/{token}",
    "/api/v1/handover/schema/incident-transfer-v1.json",  # the published exchange format
}
PUBLIC_PREFIXES = ("/signup",)
STREAMS = {"/t/{slug}/live", "/t/{slug}/telephony/stream"}
BAD_IDS = ("abc", "-1", "0", "99999999999999999999", "1%27%20OR%201=1")


def _is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def _walk(dependant):
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _closure(fn) -> dict:
    names = fn.__code__.co_freevars
    return {n: c.cell_contents for n, c in zip(names, fn.__closure__ or (), strict=False)}


def required_roles(route) -> tuple[str, set[str]] | None:
    """("tenant"|"platform", allowed roles) from the route's dependency tree, or None."""
    if getattr(route, "dependant", None) is None:
        return None
    for dep in _walk(route.dependant):
        call = getattr(dep, "call", None)
        qual = getattr(call, "__qualname__", "")
        if qual.startswith(("tenant_roles.", "api_tenant_access.")):
            return "tenant", set(_closure(call)["roles"])
        if qual.startswith(("platform_roles.", "api_platform_access.")):
            return "platform", set(_closure(call)["roles"])
        if qual == "current_tenant_user":
            return "tenant", set(TENANT_ROLES)
        if qual == "current_platform_user":
            return "platform", {"kominfo", "platform_admin"}
    return None


def needs_csrf(route) -> bool:
    dependant = getattr(route, "dependant", None)
    return dependant is not None and any(getattr(d, "call", None) is verify_csrf for d in _walk(dependant))


def all_routes(app):
    for path, methods, route in iter_routes(app.routes):
        for method in sorted(methods - {"HEAD"}):
            yield method, path, route


def fill(path: str, slug: str, value: str = "1") -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: slug if m.group(1) == "slug" else value, path)


_COUNT_SQL: dict[str, str] = {}


async def table_counts(engine, schemas: list[str]) -> dict[str, int]:
    """Row counts of every table of ``schemas`` in ONE round trip."""
    key = ",".join(schemas)
    async with engine.connect() as conn:
        if key not in _COUNT_SQL:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_schema = ANY(:s) AND table_type = 'BASE TABLE'"
                    ),
                    {"s": schemas},
                )
            ).all()
            _COUNT_SQL[key] = " UNION ALL ".join(
                f'SELECT \'{sc}.{t}\', count(*) FROM "{sc}"."{t}"' for sc, t in tables
            )
        return dict((await conn.execute(text(_COUNT_SQL[key]))).all())


async def snapshot(engine, slug: str) -> dict[str, int]:
    return await table_counts(engine, [f"tenant_{slug}", "public"])


def client_for(app) -> httpx.AsyncClient:
    # An address of its own, so the per-IP login limiter never throttles other tests.
    ip = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000), raise_app_exceptions=False),
        base_url="https://testserver",
        timeout=30,
    )


@pytest.fixture(scope="module")
async def victim(tenant_factory):
    return await tenant_factory(prefix="sec")


async def test_no_session_is_refused_everywhere(app, engine, victim):
    before = await snapshot(engine, victim.slug)
    problems = []
    async with client_for(app) as c:
        for method, path, _route in all_routes(app):
            url = fill(path, victim.slug)
            resp = await c.request(method, url, headers={"accept": "application/json"})
            if resp.status_code >= 500:
                problems.append(f"{method} {path}: {resp.status_code}")
            elif not _is_public(path) and resp.status_code not in (401, 403, 404, 422):
                problems.append(f"{method} {path}: {resp.status_code} without a session")
    assert not problems, "\n".join(problems)
    assert await snapshot(engine, victim.slug) == before


async def test_wrong_role_is_forbidden(app, engine, victim, user_factory, platform_user_factory):
    """For each role-restricted route, a logged-in user of a role NOT allowed gets 403."""
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for role in TENANT_ROLES:
            c = client_for(app)
            user = await user_factory(victim, role)
            assert (await login(c, victim.slug, user.email)).status_code == 303
            c.headers["x-csrf-token"] = await csrf_of(c, f"/t/{victim.slug}/login")
            clients[role] = c
        for role in ("kominfo", "platform_admin"):
            c = client_for(app)
            user = await platform_user_factory(role)
            assert (await platform_login(c, user.email)).status_code == 303
            c.headers["x-csrf-token"] = await csrf_of(c, "/login")
            clients[role] = c
        before = await snapshot(engine, victim.slug)
        problems, checked = [], 0
        for method, path, route in all_routes(app):
            spec = required_roles(route)
            if spec is None:
                continue
            scope, allowed = spec
            pool = TENANT_ROLES if scope == "tenant" else ("kominfo", "platform_admin")
            for role in pool:
                if role in allowed:
                    continue
                resp = await clients[role].request(
                    method, fill(path, victim.slug), headers={"accept": "application/json"}
                )
                checked += 1
                if resp.status_code != 403:
                    problems.append(
                        f"{method} {path} as {role}: {resp.status_code} (allowed: {sorted(allowed)})"
                    )
        assert checked >= 20
        assert not problems, "\n".join(problems)
        assert await snapshot(engine, victim.slug) == before
    finally:
        for c in clients.values():
            await c.aclose()


@pytest.mark.parametrize("extra", [{}, {"authorization": "Bearer x"}], ids=["plain", "with-bearer"])
async def test_every_cookie_write_without_csrf_token_is_403(
    app, engine, victim, user_factory, platform_user_factory, extra
):
    """Also with an unrelated ``Authorization: Bearer`` header: it must not switch CSRF off."""
    tenant_admin = client_for(app)
    platform_admin = client_for(app)
    try:
        user = await user_factory(victim, "admin")
        assert (await login(tenant_admin, victim.slug, user.email)).status_code == 303
        puser = await platform_user_factory("platform_admin")
        assert (await platform_login(platform_admin, puser.email)).status_code == 303
        before = await snapshot(engine, victim.slug)
        problems, checked = [], 0
        for method, path, route in all_routes(app):
            if method == "GET":
                continue
            c = tenant_admin if "{slug}" in path else platform_admin
            resp = await c.request(
                method,
                fill(path, victim.slug),
                data={"name": "x", "csrf_token": ""},
                headers={"accept": "application/json", **extra},
            )
            checked += 1
            if needs_csrf(route):
                if resp.status_code != 403:
                    problems.append(f"{method} {path}: {resp.status_code}, expected 403 (CSRF)")
            elif resp.status_code < 400 or resp.status_code >= 500:
                # Not CSRF-protected: it must not accept the cookie session as authentication.
                problems.append(
                    f"{method} {path}: {resp.status_code} with a cookie session and no CSRF token"
                )
        assert checked >= 10
        assert not problems, "\n".join(problems)
        assert await snapshot(engine, victim.slug) == before
    finally:
        await tenant_admin.aclose()
        await platform_admin.aclose()


async def test_malformed_input_never_500_and_changes_nothing(
    app, engine, victim, user_factory, platform_user_factory
):
    """Allowed role, valid CSRF, garbage ids and bodies: a 4xx, never a 500, no rows written."""
    tenant_admin, platform_admin = client_for(app), client_for(app)
    try:
        user = await user_factory(victim, "admin")
        assert (await login(tenant_admin, victim.slug, user.email)).status_code == 303
        tenant_admin.headers["x-csrf-token"] = await csrf_of(tenant_admin, f"/t/{victim.slug}/login")
        puser = await platform_user_factory("platform_admin")
        assert (await platform_login(platform_admin, puser.email)).status_code == 303
        platform_admin.headers["x-csrf-token"] = await csrf_of(platform_admin, "/login")
        problems = []
        for method, path, _route in all_routes(app):
            if path in STREAMS:
                continue
            c = tenant_admin if "{slug}" in path else platform_admin
            has_ids = re.search(r"\{(?!slug\})\w+", path)
            for bad in ("1", *BAD_IDS) if has_ids else ("1",):
                url = fill(path, victim.slug, bad)
                bodies = (
                    [None]
                    if method == "GET"
                    else [
                        {"data": {"email": "a" * 5000, "name": "\u0000", "id": "-99999999999999999999"}},
                        {"json": {"x": [1, {"y": None}], "email": 12, "status": "\u0000", "id": 2**70}},
                        {"content": b"\xff\xfe{{{not json", "headers": {"content-type": "application/json"}},
                    ]
                )
                for body in bodies if bad == "1" else bodies[:1]:
                    before = await snapshot(engine, victim.slug) if method != "GET" else None
                    kw = dict(body or {})
                    headers = {"accept": "application/json", **kw.pop("headers", {})}
                    resp = await c.request(method, url, headers=headers, **kw)
                    if resp.status_code >= 500:
                        problems.append(f"{method} {url} {list(kw)}: {resp.status_code} {resp.text[:120]}")
                    elif method != "GET" and resp.status_code >= 400:
                        after = await snapshot(engine, victim.slug)
                        changed = {k for k in after if after[k] != before.get(k)} - {
                            f"tenant_{victim.slug}.audit_log",
                            "public.platform_audit_log",
                        }
                        if changed:
                            problems.append(f"{method} {url}: {resp.status_code} but wrote {sorted(changed)}")
        assert not problems, "\n".join(problems)
    finally:
        await tenant_admin.aclose()
        await platform_admin.aclose()
