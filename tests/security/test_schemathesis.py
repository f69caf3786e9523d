"""Property-based fuzzing of the whole OpenAPI spec with schemathesis: no request may cause a 500.

Runs against the live uvicorn server (its own event loop and lifespan) with a bearer token that
carries every tenant scope, so generated requests get past authentication into the handlers.
The tenant slug is pinned to a real tenant; everything else is generated.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.auth.tokens import generate_token
from app.security.models import ApiToken
from app.security.scopes import TENANT_SCOPES


@pytest.fixture(scope="session")
async def fuzz_target(db, tenant_factory):
    tenant = await tenant_factory(prefix="fuzz")
    new = generate_token()
    async with db.tenant(tenant.slug) as s:
        s.add(
            ApiToken(
                name="schemathesis",
                kind="service",
                lookup=new.lookup,
                token_hash=new.token_hash,
                scopes=sorted(TENANT_SCOPES),
            )
        )
        await s.commit()
    return tenant.slug, new.plain


@pytest.fixture(scope="session")
def api_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_causes_a_server_error(case, fuzz_target):
    slug, token = fuzz_target
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = slug
    if "/stream" in case.path or case.path.endswith("/live"):
        pytest.skip("server-sent event streams never end")
    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )
