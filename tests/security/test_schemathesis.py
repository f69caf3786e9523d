"""Property-based testing of the JSON API against its own OpenAPI document, with every
schemathesis check (the CLI's ``--checks all``): no 5xx, every status and content type
documented, every response matching its schema, invalid input rejected, valid input accepted.

Runs against the live uvicorn server (its own event loop and lifespan) with bearer tokens that
carry every tenant scope (tenant API) and ``national:read`` (platform API), so generated
requests get past authentication into the handlers. The tenant slug is pinned to a real tenant;
everything else is generated.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from app.auth.tokens import generate_token
from app.security.models import ApiToken, PlatformApiToken
from app.security.scopes import PLATFORM_SCOPES, TENANT_SCOPES

load_all_checks()
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture(scope="session")
async def fuzz_target(db, tenant_factory):
    tenant = await tenant_factory(prefix="fuzz")
    new, platform = generate_token(), generate_token()
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
    async with db.public() as s:
        s.add(
            PlatformApiToken(
                name="schemathesis",
                kind="service",
                lookup=platform.lookup,
                token_hash=platform.token_hash,
                scopes=sorted(PLATFORM_SCOPES),
            )
        )
        await s.commit()
    return tenant.slug, new.plain, platform.plain


# A schema-valid request may still break a rule no JSON Schema can state: an id that does not
# exist (category_id, opd_ids), a pair of fields (lat without lon, "from" after "to", a reject
# without a reason), a number that is not a real phone number. Those are a 422 naming the field;
# everything else schemathesis expects of valid data stays as it is.
POSITIVE_STATUSES = ["2xx", "401", "403", "404", "409", "422"]


@pytest.fixture(scope="session")
def api_schema(live_server):
    loaded = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    loaded.config.checks.positive_data_acceptance.expected_statuses = POSITIVE_STATUSES
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


def test_the_document_is_the_json_api_only(api_schema):
    paths = list(api_schema.raw_schema["paths"])
    assert paths and all(p.startswith("/api/") for p in paths)
    assert "HTTPValidationError" not in api_schema.raw_schema["components"]["schemas"]


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, fuzz_target):
    slug, token, platform_token = fuzz_target
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = slug
    bearer = platform_token if case.path.startswith(("/api/v1/platform", "/api/v1/national")) else token
    case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, checks=ALL_CHECKS, timeout=20)
