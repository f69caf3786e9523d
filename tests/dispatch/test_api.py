"""Dispatch over the JSON API: OPD staff accept or reject, see only their own; bad input is refused."""

from __future__ import annotations

from tests.calls.test_api import api, new_incident


async def test_reject_returns_dispatch_to_operator(tenant_a, client_as, ids_of, app):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    bpbd = await client_as(tenant_a, "opd_staff", "bpbd")
    _, incident = await new_incident(op, tenant_a, cats, category="flood")
    d = (
        await op.post(
            api(tenant_a, f"/incidents/{incident['id']}/dispatches"),
            json={"opd_ids": [opds["bpbd"], opds["dinsos"]]},
        )
    ).json()
    bd = next(x for x in d if x["opd_code"] == "bpbd")

    no_reason = await bpbd.post(
        api(tenant_a, f"/dispatches/{bd['id']}/transition"), json={"status": "rejected"}
    )
    assert no_reason.status_code == 422
    assert "Alasan" in no_reason.json()["errors"][0]["message"]
    rej = await bpbd.post(
        api(tenant_a, f"/dispatches/{bd['id']}/transition"),
        json={"status": "rejected", "reason": "Bukan wilayah kami, tim di lokasi lain"},
    )
    assert rej.status_code == 200 and rej.json()["reject_reason"].startswith("Bukan wilayah")

    shown = (await op.get(api(tenant_a, f"/incidents/{incident['id']}"))).json()
    rejected = [x for x in shown["dispatches"] if x["status"] == "rejected"]
    assert rejected and rejected[0]["reject_reason"].startswith("Bukan wilayah")
    page = await op.get(f"/t/{tenant_a.slug}/fragments/incidents")
    assert page.status_code == 200 and "Bukan wilayah kami" in page.text and "Ditolak" in page.text

    # The operator can send it again (a new dispatch); a still-running one cannot be doubled.
    again = await op.post(
        api(tenant_a, f"/incidents/{incident['id']}/dispatches"), json={"opd_ids": [opds["bpbd"]]}
    )
    assert again.status_code == 201
    double = await op.post(
        api(tenant_a, f"/incidents/{incident['id']}/dispatches"), json={"opd_ids": [opds["dinsos"]]}
    )
    assert double.status_code == 409


async def test_agency_staff_see_and_move_only_their_own(tenant_a, client_as, ids_of):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    damkar = await client_as(tenant_a, "opd_staff", "damkar")
    bpbd = await client_as(tenant_a, "opd_staff", "bpbd")
    _, incident = await new_incident(op, tenant_a, cats)
    ds = (
        await op.post(
            api(tenant_a, f"/incidents/{incident['id']}/dispatches"),
            json={"opd_ids": [opds["damkar"], opds["bpbd"]]},
        )
    ).json()
    bd = next(x for x in ds if x["opd_code"] == "bpbd")

    assert (await damkar.get(api(tenant_a, f"/dispatches/{bd['id']}"))).status_code == 404
    move = await damkar.post(
        api(tenant_a, f"/dispatches/{bd['id']}/transition"), json={"status": "acknowledged"}
    )
    assert move.status_code == 404
    queue = (
        await damkar.get(
            api(
                tenant_a,
                "/opd/queue",
            )
        )
    ).json()
    assert all(q["dispatch"]["opd_code"] == "damkar" for q in queue) and queue
    # Asking for another agency's queue by parameter changes nothing.
    queue2 = (await damkar.get(api(tenant_a, f"/opd/queue?opd_id={opds['bpbd']}"))).json()
    assert all(q["dispatch"]["opd_code"] == "damkar" for q in queue2)
    assert (await bpbd.get(api(tenant_a, f"/dispatches/{bd['id']}"))).status_code == 200

    # An operator cannot act as an agency; agency staff cannot log calls or dispatch.
    as_op = await op.post(
        api(tenant_a, f"/dispatches/{bd['id']}/transition"), json={"status": "acknowledged"}
    )
    assert as_op.status_code == 403
    assert (
        await damkar.post(api(tenant_a, "/calls"), json={"caller_number": "08123456789"})
    ).status_code == 403
    assert (
        await damkar.post(
            api(tenant_a, f"/incidents/{incident['id']}/dispatches"), json={"opd_ids": [opds["damkar"]]}
        )
    ).status_code == 403
    # The HTML queue refuses to move another agency's card too.
    html = await damkar.post(f"/t/{tenant_a.slug}/opd/dispatches/{bd['id']}/advance", data={"version": "1"})
    assert html.status_code == 404
    assert (await bpbd.get(api(tenant_a, f"/dispatches/{bd['id']}"))).json()["status"] == "sent"


async def test_bad_dispatch_input(tenant_a, client_as, counts, ids_of):
    opds, cats = await ids_of(tenant_a)
    op = await client_as(tenant_a, "operator")
    _, incident = await new_incident(op, tenant_a, cats)
    before = await counts(tenant_a)
    url = api(tenant_a, f"/incidents/{incident['id']}/dispatches")
    assert (await op.post(url, json={"opd_ids": []})).status_code == 422
    assert (await op.post(url, json={"opd_ids": "damkar"})).status_code == 422
    # One unknown OPD among good ones: nothing is dispatched at all.
    partial = await op.post(url, json={"opd_ids": [opds["damkar"], 987654]})
    assert partial.status_code == 422 and partial.json()["errors"][0]["field"] == "opd_ids"
    assert (
        await op.post(api(tenant_a, "/incidents/987654/dispatches"), json={"opd_ids": [opds["damkar"]]})
    ).status_code == 404
    assert await counts(tenant_a) == before
