"""A retry is safe: a call (by ``external_id`` or ``Idempotency-Key``), an incident or a
dispatch posted again returns what the first request stored (200, same body), concurrent
repeats write one set of rows, and nothing answers 500."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from app.calls.models import Call, EventLog, Incident
from app.dispatch.models import Dispatch
from app.sla.models import SlaClock


def api(tenant, path):
    return f"/api/v1/t/{tenant.slug}{path}"


def key() -> str:
    return f"retry-{uuid.uuid4().hex}"


async def _rows(db, tenant, model, *where) -> int:
    async with db.tenant(tenant.slug) as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_same_external_id_twice_returns_the_stored_call(db, tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    ext = key()
    body = {"caller_number": "081234560001", "external_id": ext, "notes": "pertama"}
    first = await op.post(api(tenant_a, "/calls"), json=body)
    assert first.status_code == 201, first.text
    again = await op.post(api(tenant_a, "/calls"), json=body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await _rows(db, tenant_a, Call, Call.external_id == ext) == 1
    call_id = first.json()["id"]
    logged = EventLog.entity_id == call_id, EventLog.entity == "call", EventLog.kind == "logged"
    assert await _rows(db, tenant_a, EventLog, *logged) == 1
    assert await _rows(db, tenant_a, SlaClock, SlaClock.call_id == call_id) == 1


async def test_idempotency_key_header_makes_a_retry_without_external_id_safe(db, tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    k = key()
    first = await op.post(
        api(tenant_a, "/calls"), json={"caller_number": "081234560002"}, headers={"Idempotency-Key": k}
    )
    again = await op.post(
        api(tenant_a, "/calls"), json={"caller_number": "081234560002"}, headers={"Idempotency-Key": k}
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and first.json()["external_id"] == k
    assert await _rows(db, tenant_a, Call, Call.external_id == k) == 1
    clash = await op.post(
        api(tenant_a, "/calls"),
        json={"caller_number": "081234560002", "external_id": "lain"},
        headers={"Idempotency-Key": k},
    )
    assert clash.status_code == 422 and clash.json()["errors"][0]["field"].endswith("Idempotency-Key")


async def test_concurrent_repeats_of_a_call_write_one_row(db, tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    ext = key()
    body = {"caller_number": "081234560003", "external_id": ext}
    answers = await asyncio.gather(*(op.post(api(tenant_a, "/calls"), json=body) for _ in range(12)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 11 + [201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert await _rows(db, tenant_a, Call, Call.external_id == ext) == 1


async def test_incident_and_dispatch_repeats_return_the_stored_result(db, tenant_a, client_as, ids_of):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    call = (await op.post(api(tenant_a, "/calls"), json={"caller_number": "081234560004"})).json()
    k = key()
    body = {"category_id": cats["fire"], "call_id": call["id"], "description": "Gudang terbakar"}
    answers = await asyncio.gather(
        *(op.post(api(tenant_a, "/incidents"), json=body, headers={"Idempotency-Key": k}) for _ in range(6))
    )
    assert sorted(r.status_code for r in answers) == [200] * 5 + [201], [r.text for r in answers]
    incident = next(r for r in answers if r.status_code == 201).json()
    assert all(r.json() == incident for r in answers)
    assert (
        await _rows(
            db, tenant_a, Incident, Incident.description == "Gudang terbakar", Incident.id == incident["id"]
        )
        == 1
    )
    async with db.tenant(tenant_a.slug) as s:
        attached = (await s.execute(select(Call.incident_id).where(Call.id == call["id"]))).scalar_one()
    assert attached == incident["id"]

    k = key()
    url = api(tenant_a, f"/incidents/{incident['id']}/dispatches")
    answers = await asyncio.gather(
        *(op.post(url, json={"opd_ids": [opds["damkar"]]}, headers={"Idempotency-Key": k}) for _ in range(6))
    )
    assert sorted(r.status_code for r in answers) == [200] * 5 + [201], [r.text for r in answers]
    sent = next(r for r in answers if r.status_code == 201).json()
    assert all(r.json() == sent for r in answers)
    assert await _rows(db, tenant_a, Dispatch, Dispatch.incident_id == incident["id"]) == 1
    later = await op.post(url, json={"opd_ids": [opds["damkar"]]}, headers={"Idempotency-Key": k})
    assert later.status_code == 200 and later.json() == sent
    # Without a key the old rule stands: the agency is already working on it.
    assert (await op.post(url, json={"opd_ids": [opds["damkar"]]})).status_code == 409
