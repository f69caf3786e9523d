"""A token never exceeds its owner: effective rights = scopes ∩ the owner's CURRENT role and OPD;
a service token can be bound to one agency and then acts like that agency's staff."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.auth.models import User
from app.dispatch.models import Opd
from tests.sla.conftest import open_dispatch

TOKEN_RE = re.compile(r"s112_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")
ALL = ["calls:read", "calls:write", "dispatch:read", "dispatch:write"]


async def _token(admin_client, slug: str, **form) -> str:
    data = {"csrf_token": admin_client.csrf, "name": "Token uji", "kind": "service", "scopes": ALL}
    data.update(form)
    resp = await admin_client.post(f"/t/{slug}/admin/tokens", data=data)
    assert resp.status_code == 201, resp.text
    return TOKEN_RE.search(resp.text).group(0)


async def _opd_id(db, slug: str, code: str) -> int:
    async with db.tenant(slug) as s:
        return (await s.execute(select(Opd.id).where(Opd.code == code))).scalar_one()


async def test_personal_token_of_agency_staff_sees_only_its_agency(
    admin_client, client, tenant_a, user_factory, db
):
    slug = tenant_a.slug
    staff = await user_factory(tenant_a, "opd_staff", opd_code="damkar")
    plain = await _token(admin_client, slug, kind="personal", user_id=str(staff.id))
    auth = {"authorization": f"Bearer {plain}"}
    sent = datetime.now(UTC) - timedelta(minutes=1)
    _, bpbd_dispatch = await open_dispatch(db, slug, sent, opd_code="bpbd")
    _, damkar_dispatch = await open_dispatch(db, slug, sent, opd_code="damkar")
    api = f"/api/v1/t/{slug}"

    me = (await client.get(f"{api}/whoami", headers=auth)).json()
    assert me["role"] == "opd_staff" and me["token_kind"] == "personal"
    assert me["opd_id"] == await _opd_id(db, slug, "damkar")
    # Its own agency's dispatch: yes. Another agency's: not even visible.
    assert (await client.get(f"{api}/dispatches/{damkar_dispatch}", headers=auth)).status_code == 200
    assert (await client.get(f"{api}/dispatches/{bpbd_dispatch}", headers=auth)).status_code == 404
    moved = await client.post(
        f"{api}/dispatches/{bpbd_dispatch}/transition", json={"status": "acknowledged"}, headers=auth
    )
    assert moved.status_code == 404
    queue = (await client.get(f"{api}/opd/queue", headers=auth)).json()
    assert {q["dispatch"]["id"] for q in queue} >= {damkar_dispatch} and bpbd_dispatch not in {
        q["dispatch"]["id"] for q in queue
    }
    # Agency staff cannot list calls or dispatch incidents in their own session: nor can the token.
    assert (await client.get(f"{api}/calls", headers=auth)).status_code == 403
    assert (await client.get(f"{api}/incidents/1/suggested-opds", headers=auth)).status_code == 403

    # The owner's role is read at every request: promoted to operator, the token follows.
    async with db.tenant(slug) as s:
        await s.execute(update(User).where(User.id == staff.id).values(role="operator", opd_id=None))
        await s.commit()
    assert (await client.get(f"{api}/calls", headers=auth)).status_code == 200
    assert (await client.get(f"{api}/dispatches/{bpbd_dispatch}", headers=auth)).status_code == 200
    # …and dies with the owner's account.
    async with db.tenant(slug) as s:
        await s.execute(update(User).where(User.id == staff.id).values(is_active=False))
        await s.commit()
    assert (await client.get(f"{api}/whoami", headers=auth)).status_code == 401


async def test_service_token_bound_to_an_agency(admin_client, client, tenant_a, db):
    slug = tenant_a.slug
    bpbd = await _opd_id(db, slug, "bpbd")
    plain = await _token(admin_client, slug, opd_id=str(bpbd), name="Sistem BPBD")
    auth = {"authorization": f"Bearer {plain}"}
    sent = datetime.now(UTC) - timedelta(minutes=1)
    _, bpbd_dispatch = await open_dispatch(db, slug, sent, opd_code="bpbd")
    _, damkar_dispatch = await open_dispatch(db, slug, sent, opd_code="damkar")
    api = f"/api/v1/t/{slug}"
    me = (await client.get(f"{api}/whoami", headers=auth)).json()
    assert me["role"] == "service" and me["opd_id"] == bpbd
    assert (await client.get(f"{api}/dispatches/{bpbd_dispatch}", headers=auth)).status_code == 200
    assert (await client.get(f"{api}/dispatches/{damkar_dispatch}", headers=auth)).status_code == 404
    ack = await client.post(
        f"{api}/dispatches/{bpbd_dispatch}/transition", json={"status": "acknowledged"}, headers=auth
    )
    assert ack.status_code == 200, ack.text
    # Agency-bound: no call list, no dispatching (what BPBD staff cannot do either).
    assert (await client.get(f"{api}/calls", headers=auth)).status_code == 403

    # An unbound service token keeps the full reach its scopes give.
    unbound = {"authorization": f"Bearer {await _token(admin_client, slug)}"}
    assert (
        await client.get(f"{api}/dispatches/{damkar_dispatch}", headers=auth | unbound)
    ).status_code == 200
    assert (await client.get(f"{api}/calls", headers=unbound)).status_code == 200


async def test_opd_binding_is_for_service_tokens_only(admin_client, tenant_a, user_factory, db):
    slug = tenant_a.slug
    owner = await user_factory(tenant_a, "operator")
    bpbd = await _opd_id(db, slug, "bpbd")
    base = {"csrf_token": admin_client.csrf, "name": "Salah", "scopes": ALL}
    personal = await admin_client.post(
        f"/t/{slug}/admin/tokens",
        data={**base, "kind": "personal", "user_id": str(owner.id), "opd_id": str(bpbd)},
    )
    assert personal.status_code == 422 and 'id="e-opd_id"' in personal.text
    unknown = await admin_client.post(
        f"/t/{slug}/admin/tokens", data={**base, "kind": "service", "opd_id": "999999"}
    )
    assert unknown.status_code == 422 and 'id="e-opd_id"' in unknown.text
    # Unicode digits are not numbers here (Arabic-Indic "١" would be int() == 1).
    days = await admin_client.post(
        f"/t/{slug}/admin/tokens", data={**base, "kind": "service", "expires_days": "١"}
    )
    assert days.status_code == 422 and 'id="e-expires_days"' in days.text
