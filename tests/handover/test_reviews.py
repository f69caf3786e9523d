"""Step 3 of the graduated scale: an operator asks for a supervisor review of a caller, and a
supervisor decides (nothing, the watch list, a warning SMS). One open review per number; a
decision is taken once; every step audited; the call itself is never blocked or changed."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.calls.models import Call, EventLog
from app.reputation.models import CallerReview
from app.telephony.models import WatchEntry
from tests.conftest import csrf_of, login
from tests.handover.test_warning_sms import _operator, _prank_call


async def _supervisor(client, tenant, user_factory) -> str:
    user = await user_factory(tenant, "supervisor")
    client.cookies.clear()
    assert (await login(client, tenant.slug, user.email)).status_code == 303
    return await csrf_of(client, f"/t/{tenant.slug}/reviews")


async def test_operator_asks_supervisor_decides_watch_list(client, db, tenant_factory, user_factory):
    tenant = await tenant_factory(prefix="rev")
    number = "+62813" + str(uuid.uuid4().int)[:8]
    first, second = [await _prank_call(db, tenant.slug, number) for _ in range(2)]
    h = await _operator(client, tenant, user_factory)

    r = await client.post(
        f"/t/{tenant.slug}/calls/{first}/review", headers=h, data={"note": "sering mengaku kebakaran"}
    )
    assert r.status_code == 201, r.text
    assert "Tinjauan supervisor diminta" in r.headers["hx-trigger"]
    review_id = r.json()["review_id"]
    # asking again (another call of the same number, another operator) joins the open review
    again = await client.post(f"/t/{tenant.slug}/calls/{second}/review", headers=h)
    assert again.status_code == 200 and again.json() == {"review_id": review_id, "created": False}
    assert "sudah menunggu tinjauan" in again.headers["hx-trigger"]
    # an operator does not decide
    page = await client.get(f"/t/{tenant.slug}/reviews")
    assert page.status_code in (303, 403)

    token = await _supervisor(client, tenant, user_factory)
    page = await client.get(f"/t/{tenant.slug}/reviews")
    assert page.status_code == 200 and number in page.text and "sering mengaku kebakaran" in page.text
    # a watch-list decision needs the reason operators will see: refused beside the field
    refused = await client.post(
        f"/t/{tenant.slug}/reviews/{review_id}", data={"csrf_token": token, "decision": "watch_list"}
    )
    assert refused.status_code == 422
    assert f'id="e-decision_note-{review_id}"' in refused.text and "Tulis alasan" in refused.text
    bad = await client.post(
        f"/t/{tenant.slug}/reviews/{review_id}", data={"csrf_token": token, "decision": "block"}
    )
    assert bad.status_code == 422 and f'id="e-decision-{review_id}"' in bad.text

    done = await client.post(
        f"/t/{tenant.slug}/reviews/{review_id}",
        data={"csrf_token": token, "decision": "watch_list", "decision_note": "12× iseng dalam seminggu"},
    )
    assert done.status_code == 303
    twice = await client.post(
        f"/t/{tenant.slug}/reviews/{review_id}", data={"csrf_token": token, "decision": "no_action"}
    )
    assert twice.status_code == 409 and "sudah diputuskan" in twice.text

    async with db.tenant(tenant.slug) as s:
        review = await s.get(CallerReview, review_id)
        assert (review.status, review.decision, review.decision_note) == (
            "closed",
            "watch_list",
            "12× iseng dalam seminggu",
        )
        entry = (await s.execute(select(WatchEntry).where(WatchEntry.caller_number == number))).scalar_one()
        assert entry.reason == "12× iseng dalam seminggu" and entry.removed_at is None
        actions = set(
            (await s.execute(select(AuditLog.action).where(AuditLog.entity == "caller_review"))).scalars()
        )
        assert actions == {"reputation.review_requested", "reputation.review_decided"}
        history = set(
            (
                await s.execute(
                    select(EventLog.kind).where(EventLog.entity == "call", EventLog.entity_id == first)
                )
            ).scalars()
        )
        assert {"review_requested", "review_decided"} <= history
        call = await s.get(Call, first)
        assert call.outcome == "prank"  # the call itself is untouched
        assert (await s.execute(select(func.count()).select_from(CallerReview))).scalar_one() == 1
    # once decided, the number can be asked about again (a new review)
    h = await _operator(client, tenant, user_factory)
    anew = await client.post(f"/t/{tenant.slug}/calls/{second}/review", headers=h)
    assert anew.status_code == 201 and anew.json()["review_id"] != review_id


async def test_review_of_a_call_without_number_is_refused(client, db, tenant_factory, user_factory):
    tenant = await tenant_factory(prefix="rev")
    call_id = await _prank_call(db, tenant.slug, None)
    h = await _operator(client, tenant, user_factory)
    r = await client.post(f"/t/{tenant.slug}/calls/{call_id}/review", headers=h)
    assert r.status_code == 422 and "tidak diketahui" in r.json()["detail"]
    missing = await client.post(f"/t/{tenant.slug}/calls/999999/review", headers=h)
    assert missing.status_code == 404
    async with db.tenant(tenant.slug) as s:
        assert (await s.execute(select(func.count()).select_from(CallerReview))).scalar_one() == 0
