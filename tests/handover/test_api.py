"""The exchange format on the JSON API: schema, export, receipt from an external system (token
scope handover:receive), a hand-over started by API, and refusals naming the failing paths."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.handover import document
from app.handover.models import HandoverInbox


async def _token(db, tenant, user_factory, scopes):
    from app.auth.models import User
    from app.security.models import ApiToken
    from app.security.service import create_token

    admin = await user_factory(tenant, "admin")
    async with db.tenant(tenant.slug) as s:
        actor = await s.get(User, admin.id)
        _, plain = await create_token(
            s, None, actor, ApiToken, name="CAD 110", kind="service", scopes=scopes, user_id=None
        )
        await s.commit()
    return {"authorization": f"Bearer {plain}"}


def _external_doc(**over):
    doc = {
        "version": "1",
        "transferId": str(uuid.uuid4()),
        "incidentId": "urn:polres-solok:cad:2026-1234",
        "sentAt": datetime.now(UTC).isoformat(),
        "sendingCentre": {"id": "polres-solok-110", "name": "Polres Solok (110)", "kind": "external"},
        "reason": "Kecelakaan dengan korban: butuh ambulans dan Damkar",
        "classifications": [
            {"scheme": "siaga112-category", "code": "traffic_accident", "label": "Kecelakaan"}
        ],
        "priority": 1,
        "location": {
            "address": "Jl. Lintas Sumatera km 12",
            "latitude": -0.8,
            "longitude": 100.66,
            "accuracyM": 50,
        },
        "informer": {"phoneNumber": "+6281399900011", "channel": "voice"},
        "remarks": [
            {"at": datetime.now(UTC).isoformat(), "author": "Brigadir Uji", "text": "Dua mobil bertabrakan"}
        ],
    }
    doc.update(over)
    return doc


async def test_schema_is_served_and_an_export_validates(
    client, db, regency, actor, incident_of, user_factory
):
    resp = await client.get("/api/v1/handover/schema/incident-transfer-v1.json")
    assert resp.status_code == 200 and resp.json()["$id"].endswith("incident-transfer-v1.json")
    tenant = await regency("97")
    incident_id = await incident_of(await actor(tenant))
    headers = await _token(db, tenant, user_factory, ["calls:read"])
    resp = await client.get(
        f"/api/v1/t/{tenant.slug}/incidents/{incident_id}/transfer-document", headers=headers
    )
    assert resp.status_code == 200, resp.text
    doc = document.validate(resp.json())
    assert doc["incidentId"] == f"urn:siaga112:{tenant.region_code}:incident:{incident_id}"
    assert doc["sendingCentre"] == {"id": tenant.region_code, "name": tenant.name, "kind": "regency"}
    missing = await client.get(f"/api/v1/t/{tenant.slug}/incidents/999999/transfer-document", headers=headers)
    assert missing.status_code == 404


async def test_external_system_hands_over_with_a_token(client, db, regency, user_factory):
    tenant = await regency("97")
    headers = await _token(db, tenant, user_factory, ["handover:receive"])
    doc = _external_doc()
    url = f"/api/v1/t/{tenant.slug}/handover/inbox"
    first = await client.post(url, json=doc, headers=headers)
    assert first.status_code == 201 and first.json()["created"] is True
    again = await client.post(url, json=doc, headers=headers)  # retried by the sender
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    async with db.tenant(tenant.slug) as s:
        rows = list((await s.execute(select(HandoverInbox))).scalars())
    assert len(rows) == 1 and rows[0].source == "external" and rows[0].status == "ringing"

    bad = _external_doc(priority=7, informer={"phoneNumber": "0812-abc"}, extra="x")
    del bad["reason"]
    resp = await client.post(url, json=bad, headers=headers)
    assert resp.status_code == 422
    paths = {e["field"] for e in resp.json()["errors"]}
    assert {"$.priority", "$.informer.phoneNumber", "$"} <= paths
    assert any("reason" in e["message"] for e in resp.json()["errors"])
    as_regency = _external_doc(sendingCentre={"id": "13.72", "name": "Kota Solok", "kind": "regency"})
    resp = await client.post(url, json=as_regency, headers=headers)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "$.sendingCentre.kind"
    async with db.tenant(tenant.slug) as s:
        assert (await s.execute(select(func.count()).select_from(HandoverInbox))).scalar_one() == 1

    wrong_scope = await _token(db, tenant, user_factory, ["calls:read"])
    assert (await client.post(url, json=_external_doc(), headers=wrong_scope)).status_code == 403


async def test_handover_by_api_refuses_oneself_and_inactive(
    client, db, regency, actor, incident_of, user_factory
):
    tenant, inactive, other = await regency("97"), await regency("97", status="pending"), await regency("97")
    incident_id = await incident_of(await actor(tenant), dispatch=False)
    headers = await _token(db, tenant, user_factory, ["calls:write"])
    url = f"/api/v1/t/{tenant.slug}/incidents/{incident_id}/handover"
    for receiver, words in ((tenant.slug, "sendiri"), (inactive.slug, "belum aktif")):
        resp = await client.post(url, json={"receiver": receiver, "reason": "lintas batas"}, headers=headers)
        assert resp.status_code == 422, resp.text
        error = resp.json()["errors"][0]
        assert error["field"] == "receiver" and words in error["message"]
    resp = await client.post(url, json={"receiver": other.slug, "reason": "lintas batas"}, headers=headers)
    assert resp.status_code == 202 and resp.json()["status"] == "pending"


async def test_console_form_names_the_refused_field(client_as, regency, actor, incident_of):
    tenant, inactive = await regency("97"), await regency("97", status="verified")
    neighbour = await regency("97")
    incident_id = await incident_of(await actor(tenant), dispatch=False)
    c = await client_as(tenant, "operator")
    form = await c.get(f"/t/{tenant.slug}/incidents/{incident_id}/handover")
    assert form.status_code == 200 and "Provinsi yang sama" in form.text and inactive.slug not in form.text
    assert neighbour.slug in form.text
    url = f"/t/{tenant.slug}/incidents/{incident_id}/handover"
    for receiver, words in ((tenant.slug, "sendiri"), (inactive.slug, "belum aktif")):
        resp = await c.post(url, data={"receiver": receiver, "reason": "lintas batas"})
        assert resp.status_code == 422 and 'id="receiver-error"' in resp.text and words in resp.text
