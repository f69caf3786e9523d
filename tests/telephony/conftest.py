"""Telephony fixtures: a tenant with a webhook secret, and a signed-request helper."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.calls.service import Ctx
from app.core.principal import Principal
from app.telephony import service
from app.telephony.signing import signed_headers


@pytest.fixture(scope="module")
async def tel(db, tenant_factory):
    """A fresh tenant (module scope) with an active secret: .slug, .secret."""
    tenant = await tenant_factory(prefix="tel")
    async with db.tenant(tenant.slug) as s:
        ctx = Ctx(
            session=s,
            tenant=tenant,
            actor=Principal(kind="tenant", user_id=None, role="admin", name="setup"),
        )
        secret = await service.rotate_secret(ctx)
    return dataclasses.replace(tenant, secret=secret)


def new_id(prefix: str = "e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def event(
    type_: str, call_id: str, caller: str = "+6281234500001", at: datetime | None = None, **extra
) -> dict:
    return {
        "event_id": new_id(),
        "type": type_,
        "call_id": call_id,
        "caller_number": caller,
        "called_number": "112",
        "trunk": "tsel-padang-1",
        "occurred_at": (at or datetime.now(UTC)).isoformat(),
        **extra,
    }


async def post_signed(
    client,
    slug: str,
    secret: str,
    payload,
    path: str = "events",
    ts: float | None = None,
    headers: dict | None = None,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {
        "content-type": "application/json",
        **signed_headers(secret, body, ts if ts is not None else time.time()),
    }
    h.update(headers or {})
    return await client.post(f"/api/v1/t/{slug}/telephony/{path}", content=body, headers=h)


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
