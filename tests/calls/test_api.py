"""The call → incident → dispatch workflow through the JSON API, with its permissions and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.calls.phone import normalize_phone


def api(tenant, path):
    return f"/api/v1/t/{tenant.slug}{path}"


async def new_incident(op, tenant, cats, number="081234567890", category="fire", **fields):
    call = await op.post(api(tenant, "/calls"), json={"caller_number": number, "channel": "voice"})
    assert call.status_code == 201, call.text
    inc = await op.post(
        api(tenant, "/incidents"),
        json={
            "call_id": call.json()["id"],
            "category_id": cats[category],
            "address": "Jl. Sudirman 1",
            **fields,
        },
    )
    assert inc.status_code == 201, inc.text
    return call.json(), inc.json()


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("62 812 3456 7890", "+6281234567890"),
        ("+62 (751) 123456", "+62751123456"),
        ("+14155552671", "+14155552671"),
        ("0014155552671", "+14155552671"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "abc", "+62 0812", "08", "+1234", "+620000000", "0812345678901234", "112"]
)
def test_bad_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


async def test_full_lifecycle_call_incident_dispatch_resolved(tenant_a, client_as, ids_of, seen_events):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    damkar = await client_as(tenant_a, "opd_staff", "damkar")

    created = await op.post(
        api(tenant_a, "/calls"), json={"caller_number": "0812 1111 2222", "channel": "voice"}
    )
    assert created.status_code == 201
    call = created.json()
    assert call["caller_number"] == "+6281211112222" and call["operator_id"] == op.user.id
    assert call["outcome"] is None and call["received_at"]

    inc = await op.post(
        api(tenant_a, "/incidents"),
        json={
            "call_id": call["id"],
            "category_id": cats["fire"],
            "lat": -0.79,
            "lon": 100.65,
            "address": "Pasar Raya Solok",
            "description": "Kios terbakar",
            "people_involved": 3,
        },
    )
    assert inc.status_code == 201, inc.text
    incident = inc.json()
    assert incident["priority"] == 1  # the category's default
    assert incident["call_ids"] == [call["id"]] and incident["status"] == "open"
    after = (await op.get(api(tenant_a, f"/calls/{call['id']}"))).json()
    assert after["outcome"] == "emergency" and after["incident_id"] == incident["id"]

    suggested = (await op.get(api(tenant_a, f"/incidents/{incident['id']}/suggested-opds"))).json()
    assert {o["code"] for o in suggested} == {"damkar", "bpbd"}

    sent = await op.post(
        api(tenant_a, f"/incidents/{incident['id']}/dispatches"), json={"opd_ids": [opds["damkar"]]}
    )
    assert sent.status_code == 201, sent.text
    d = sent.json()[0]
    assert d["status"] == "sent" and d["opd_code"] == "damkar" and d["version"] == 1

    queue = (await damkar.get(api(tenant_a, "/opd/queue"))).json()
    assert d["id"] in [q["dispatch"]["id"] for q in queue]

    version = d["version"]
    for status in ("acknowledged", "en_route", "on_scene", "resolved"):
        resp = await damkar.post(
            api(tenant_a, f"/dispatches/{d['id']}/transition"), json={"status": status, "version": version}
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == status and body["version"] == version + 1
        assert body[f"{status}_at"] is not None
        version = body["version"]

    # Terminal: nothing moves a resolved dispatch, and a stale version is a 409 too.
    again = await damkar.post(
        api(tenant_a, f"/dispatches/{d['id']}/transition"), json={"status": "acknowledged"}
    )
    assert again.status_code == 409 and "Selesai" in again.json()["detail"]
    stale = await damkar.post(
        api(tenant_a, f"/dispatches/{d['id']}/transition"), json={"status": "resolved", "version": 1}
    )
    assert stale.status_code == 409

    history = (await op.get(api(tenant_a, f"/dispatches/{d['id']}/events"))).json()
    assert [e["kind"] for e in history] == [
        "sent",
        "status:acknowledged",
        "status:en_route",
        "status:on_scene",
        "status:resolved",
    ]
    assert all(e["actor_id"] == damkar.user.id for e in history[1:])

    names = [e.name for e in seen_events if e.slug == tenant_a.slug]
    assert (
        names
        == ["call.created", "incident.opened", "call.updated", "dispatch.created"]
        + ["dispatch.status_changed"] * 4
    )
    status_events = [e for e in seen_events if e.name == "dispatch.status_changed"]
    assert [(e.old, e.new) for e in status_events] == [
        ("sent", "acknowledged"),
        ("acknowledged", "en_route"),
        ("en_route", "on_scene"),
        ("on_scene", "resolved"),
    ]
    assert seen_events[0].call.id == call["id"] and seen_events[0].actor_id == op.user.id
    upd = seen_events[2]
    assert upd.changes["outcome"] == (None, "emergency") and upd.changes["incident_id"] == (
        None,
        incident["id"],
    )
    assert seen_events[3].dispatch.id == d["id"] and seen_events[3].incident.id == incident["id"]

    closed = await op.patch(api(tenant_a, f"/incidents/{incident['id']}"), json={"status": "closed"})
    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert seen_events[-1].name == "incident.updated" and seen_events[-1].changes["status"] == (
        "open",
        "closed",
    )


async def test_other_tenants_ids_are_404(tenant_factory, client_as, ids_of, counts):
    c = await tenant_factory(prefix="cc")
    d = await tenant_factory(prefix="dd")
    opc, opd = await client_as(c, "operator"), await client_as(d, "operator")
    _, cats_c = await ids_of(c)
    opds_d, cats_d = await ids_of(d)
    _call_c, inc_c = await new_incident(opc, c, cats_c)
    for _ in range(2):  # C has more rows than D, so C's ids do not exist in D
        await new_incident(opc, c, cats_c)
    ds = (
        await opc.post(
            api(c, f"/incidents/{inc_c['id']}/dispatches"), json={"opd_ids": [(await ids_of(c))[0]["damkar"]]}
        )
    ).json()
    before = await counts(d)
    last_call = (await opc.get(api(c, "/calls?per_page=1"))).json()["items"][0]["id"]
    last_inc = (await opc.get(api(c, "/incidents"))).json()[0]["id"]
    assert (await opd.get(api(d, f"/calls/{last_call}"))).status_code == 404
    assert (await opd.patch(api(d, f"/calls/{last_call}"), json={"outcome": "prank"})).status_code == 404
    assert (await opd.get(api(d, f"/incidents/{last_inc}"))).status_code == 404
    assert (
        await opd.post(api(d, f"/incidents/{last_inc}/dispatches"), json={"opd_ids": [opds_d["damkar"]]})
    ).status_code == 404
    assert (await opd.get(api(d, f"/dispatches/{ds[0]['id']}"))).status_code == 404
    dup = await opd.post(
        api(d, "/calls"),
        json={"caller_number": "08121234567", "outcome": "duplicate", "duplicate_of_id": last_call},
    )
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "duplicate_of_id"
    attach = await opd.post(api(d, "/incidents"), json={"category_id": cats_d["fire"], "call_id": last_call})
    assert attach.status_code == 404
    # The session of C's operator is not a session of D at all.
    assert (await opc.get(api(d, "/calls"))).status_code == 401
    assert await counts(d) == before


BAD_CALLS = [
    ({"caller_number": ["081234567890"]}, "caller_number"),
    ({"caller_number": {"n": 1}}, "caller_number"),
    ({"caller_number": "081234567890", "channel": "fax"}, "channel"),
    ({"caller_number": "081234567890", "outcome": "bored"}, "outcome"),
    ({"caller_number": "081234567890", "notes": "x" * 2001}, "notes"),
    ({"caller_number": "081234567890", "received_at": "kemarin"}, "received_at"),
    ({"caller_number": "081234567890", "received_at": "2025-01-01T10:00:00"}, "received_at"),
    ({"caller_number": "081234567890", "outcome": "duplicate"}, "duplicate_of_id"),
    # Issue 20: every 422 names its field; call times within the intake window; int4 ids; NUL.
    ({"caller_number": "081234567890", "received_at": "1969-12-31T23:59:59Z"}, "received_at"),
    ({"caller_number": "081234567890", "received_at": "0001-01-01T00:00:00Z"}, "received_at"),
    ({"caller_number": "081234567890", "received_at": "2026-01-01T00:00:00+07:00"}, "received_at"),
    ({"caller_number": "081234567890", "notes": "a\u0000b"}, "notes"),
    ({"caller_number": "081234567890", "outcome": "duplicate", "duplicate_of_id": 2**31}, "duplicate_of_id"),
    ({"caller_number": "081234567890", "language": "bahasa-indonesia-panjang"}, "language"),
    ({"caller_number": "081234567890", "unknown": 1}, "unknown"),
]


# A call is never refused for its number (no SIM, withheld, "anonymous", typo): it is logged
# with the raw value and flagged "nomor tidak tersedia".
UNUSABLE_NUMBERS = [
    ({}, None),
    ({"caller_number": ""}, None),
    ({"caller_number": None}, None),
    ({"caller_number": "0812" + "1" * 40}, "0812" + "1" * 40),
    ({"caller_number": "hello-112"}, "hello-112"),
    ({"caller_number": 81234567890}, "81234567890"),
    ({"caller_number": "anonymous"}, "anonymous"),
]


@pytest.mark.parametrize("body,raw", UNUSABLE_NUMBERS)
async def test_call_without_a_usable_number_is_logged_and_flagged(tenant_a, client_as, counts, body, raw):
    op = await client_as(tenant_a, "operator")
    before = await counts(tenant_a)
    resp = await op.post(api(tenant_a, "/calls"), json={**body, "number_unavailable": False})
    assert resp.status_code == 201, resp.text
    call = resp.json()
    assert call["caller_number"] is None and call["number_unavailable"] is True
    assert call["caller_number_raw"] == raw
    after = await counts(tenant_a)
    assert after["calls"] == before["calls"] + 1


@pytest.mark.parametrize("body,field", BAD_CALLS)
async def test_bad_call_input_is_422_and_writes_nothing(tenant_a, client_as, counts, body, field):
    op = await client_as(tenant_a, "operator")
    before = await counts(tenant_a)
    resp = await op.post(api(tenant_a, "/calls"), json=body)
    assert resp.status_code == 422, resp.text
    errors = resp.json()["errors"]
    assert errors and all(e["message"] for e in errors)
    assert any(e["field"] == field for e in errors), errors
    assert await counts(tenant_a) == before


async def test_malformed_json_and_wrong_content_type_are_4xx(tenant_a, client_as, counts):
    op = await client_as(tenant_a, "operator")
    before = await counts(tenant_a)
    r1 = await op.post(
        api(tenant_a, "/calls"), content=b"{not json", headers={"content-type": "application/json"}
    )
    r2 = await op.post(
        api(tenant_a, "/calls"), content=b"[1,2]", headers={"content-type": "application/json"}
    )
    assert r1.status_code == 422 and r2.status_code == 422
    assert await counts(tenant_a) == before


BAD_INCIDENTS = [
    ({"lat": 91, "lon": 100}, "lat"),
    ({"lat": "utara", "lon": 100}, "lat"),
    ({"lat": -0.8, "lon": 200}, "lon"),
    ({"lat": 48.85, "lon": 2.35}, "lat"),  # Paris: not in Indonesia
    ({"lat": -0.8}, "lon"),
    ({"priority": 5}, "priority"),
    ({"priority": 0}, "priority"),
    ({"address": "x" * 501}, "address"),
    ({"kecamatan": "k" * 101}, "kecamatan"),
    ({"people_involved": -1}, "people_involved"),
    ({"category_id": 999999}, "category_id"),
    ({"category_id": "fire"}, "category_id"),
]


@pytest.mark.parametrize("fields,field", BAD_INCIDENTS)
async def test_bad_incident_input_is_422_and_writes_nothing(
    tenant_a, client_as, counts, ids_of, fields, field
):
    _, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    call = (await op.post(api(tenant_a, "/calls"), json={"caller_number": "081299998888"})).json()
    before = await counts(tenant_a)
    body = {"category_id": cats["fire"], "call_id": call["id"], **fields}
    resp = await op.post(api(tenant_a, "/incidents"), json=body)
    assert resp.status_code == 422, resp.text
    assert any(e["field"] == field for e in resp.json()["errors"]), resp.json()
    assert await counts(tenant_a) == before
    assert (await op.get(api(tenant_a, f"/calls/{call['id']}"))).json()["incident_id"] is None


async def test_corrections_append_events_and_keep_the_original(tenant_a, client_as, db, counts):
    op = await client_as(tenant_a, "operator")
    sup = await client_as(tenant_a, "supervisor")
    call = (
        await op.post(
            api(tenant_a, "/calls"),
            json={"caller_number": "081277776666", "outcome": "prank", "notes": "tertawa"},
        )
    ).json()
    first = (
        await op.post(api(tenant_a, "/calls"), json={"caller_number": "081277776666", "outcome": "emergency"})
    ).json()
    fix = await sup.patch(
        api(tenant_a, f"/calls/{call['id']}"),
        json={"outcome": "duplicate", "duplicate_of_id": first["id"], "reason": "Penelepon sama"},
    )
    assert fix.status_code == 200 and fix.json()["duplicate_of_id"] == first["id"]
    fix2 = await op.patch(api(tenant_a, f"/calls/{call['id']}"), json={"notes": "menangis, bukan tertawa"})
    assert fix2.status_code == 200
    unchanged_counts = await counts(tenant_a)
    noop = await op.patch(api(tenant_a, f"/calls/{call['id']}"), json={"notes": "menangis, bukan tertawa"})
    assert noop.status_code == 200 and await counts(tenant_a) == unchanged_counts

    events = (await op.get(api(tenant_a, f"/calls/{call['id']}/events"))).json()
    assert [e["kind"] for e in events] == ["logged", "corrected", "corrected"]
    assert events[0]["data"]["outcome"] == "prank" and events[0]["data"]["notes"] == "tertawa"
    assert events[0]["actor_id"] == op.user.id
    assert events[1]["actor_id"] == sup.user.id and events[1]["data"]["reason"] == "Penelepon sama"
    assert events[1]["data"]["changes"]["outcome"] == ["prank", "duplicate"]
    assert events[2]["data"]["changes"]["notes"] == ["tertawa", "menangis, bukan tertawa"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)

    # Self-duplicate and duplicate of a missing call are refused without writing.
    before = await counts(tenant_a)
    self_dup = await op.patch(api(tenant_a, f"/calls/{call['id']}"), json={"duplicate_of_id": call["id"]})
    assert self_dup.status_code == 422
    assert (await op.patch(api(tenant_a, "/calls/99999999"), json={"notes": "x"})).status_code == 404
    for body in (
        {"duplicate_of_id": None},
        {"caller_number": None},
        {"channel": None},
        {"outcome": None},
        {"channel": 5},
        {"notes": "n" * 2001},
        {"caller_number": "+62"},
    ):
        resp = await op.patch(api(tenant_a, f"/calls/{call['id']}"), json=body)
        assert resp.status_code == 422, (body, resp.text)
    assert await counts(tenant_a) == before


async def test_nearby_incident_is_suggested_and_a_second_call_attaches(
    tenant_a, client_as, ids_of, seen_events, db
):
    _, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    # Somewhere unique so other tests' incidents do not interfere.
    lat, lon = -5.1234, 119.4321
    _, inc = await new_incident(op, tenant_a, cats, lat=lat, lon=lon)
    _, other_cat = await new_incident(op, tenant_a, cats, category="flood", lat=lat, lon=lon)
    _, far = await new_incident(op, tenant_a, cats, lat=lat + 0.05, lon=lon)  # ~5.5 km north
    near = (
        await op.get(
            api(tenant_a, f"/incidents/nearby?category_id={cats['fire']}&lat={lat + 0.0027}&lon={lon}")
        )
    ).json()
    got = {n["id"]: n for n in near}
    assert inc["id"] in got and other_cat["id"] not in got and far["id"] not in got
    assert 250 < got[inc["id"]]["distance_m"] < 350
    wide = (
        await op.get(
            api(tenant_a, f"/incidents/nearby?category_id={cats['fire']}&lat={lat}&lon={lon}&radius_m=10000")
        )
    ).json()
    assert far["id"] in {n["id"] for n in wide}
    # Outside the time window (opened two hours ago): not offered.
    from sqlalchemy import update

    from app.calls.models import Incident

    async with db.tenant(tenant_a.slug) as s:
        await s.execute(
            update(Incident)
            .where(Incident.id == far["id"])
            .values(opened_at=Incident.opened_at - timedelta(hours=2))
        )
        await s.commit()
    wide = (
        await op.get(
            api(tenant_a, f"/incidents/nearby?category_id={cats['fire']}&lat={lat}&lon={lon}&radius_m=10000")
        )
    ).json()
    assert far["id"] not in {n["id"] for n in wide} and inc["id"] in {n["id"] for n in wide}
    bad = await op.get(api(tenant_a, f"/incidents/nearby?category_id={cats['fire']}&lat=100&lon={lon}"))
    assert bad.status_code == 422

    second = (await op.post(api(tenant_a, "/calls"), json={"caller_number": "081355554444"})).json()
    seen_events.clear()
    attached = await op.post(api(tenant_a, f"/incidents/{inc['id']}/calls"), json={"call_id": second["id"]})
    assert attached.status_code == 200 and second["id"] in attached.json()["call_ids"]
    assert [e.name for e in seen_events] == ["call.updated", "incident.updated"]
    again = await op.post(
        api(tenant_a, f"/incidents/{other_cat['id']}/calls"), json={"call_id": second["id"]}
    )
    assert again.status_code == 409

    # A closed incident is no longer suggested.
    await op.patch(api(tenant_a, f"/incidents/{inc['id']}"), json={"status": "closed"})
    near = (
        await op.get(api(tenant_a, f"/incidents/nearby?category_id={cats['fire']}&lat={lat}&lon={lon}"))
    ).json()
    assert inc["id"] not in {n["id"] for n in near}


async def test_repeat_caller_history(tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    number = "0813 9000 1234"
    for outcome, typed in (("prank", number), ("prank", "+6281390001234"), ("silent", "6281390001234")):
        r = await op.post(api(tenant_a, "/calls"), json={"caller_number": typed, "outcome": outcome})
        assert r.status_code == 201
    hist = await op.get(api(tenant_a, "/callers/081390001234/history"))
    assert hist.status_code == 200
    body = hist.json()
    assert body["number"] == "+6281390001234"
    assert (body["total"], body["prank_count"], body["silent_count"]) == (3, 2, 1)
    assert len(body["recent"]) == 3 and body["recent"][0]["outcome"] == "silent"
    assert (await op.get(api(tenant_a, "/callers/halo/history"))).status_code == 422
    listed = (await op.get(api(tenant_a, "/calls?number=081390001234&outcome=prank"))).json()
    assert listed["total"] == 2 and {c["outcome"] for c in listed["items"]} == {"prank"}
    paged = (await op.get(api(tenant_a, "/calls?number=081390001234&per_page=2&page=2"))).json()
    assert paged["total"] == 3 and len(paged["items"]) == 1
    # The console fragment shows the same facts the moment the number is typed.
    frag = await op.get(f"/t/{tenant_a.slug}/fragments/caller?caller_number=0813-9000-1234")
    assert frag.status_code == 200 and "2× iseng" in frag.text
    assert "3 panggilan" in frag.text


async def test_a_call_logged_closed_ends_when_answered_on_the_api_as_on_the_console(tenant_a, client_as):
    """One rule for every route: a prank logged with its answer time ended then (the console form
    applied it, the JSON API did not); an emergency, or a given end, is left as it is."""
    op = await client_as(tenant_a, "operator")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    at = {k: (t0 + timedelta(seconds=s)).isoformat() for k, s in (("rx", 0), ("ans", 10), ("end", 70))}
    base = {"caller_number": "081233334444", "received_at": at["rx"], "answered_at": at["ans"]}

    async def logged(**fields) -> dict:
        resp = await op.post(api(tenant_a, "/calls"), json={**base, **fields})
        assert resp.status_code == 201, resp.text
        return resp.json()

    prank = await logged(outcome="prank")
    assert prank["ended_at"] is not None and prank["ended_at"] == prank["answered_at"]
    assert (await logged(outcome="emergency"))["ended_at"] is None
    given = await logged(outcome="silent", ended_at=at["end"])
    assert datetime.fromisoformat(given["ended_at"]) == datetime.fromisoformat(at["end"])
