"""SLA pages and API over HTTP: policy editor (admin), compliance report + CSV (supervisor), roles."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from app.core import clock as sla_clock
from app.sla.models import SlaClock, SlaPolicy
from tests.sla.conftest import change_status, open_dispatch


async def test_policy_editor_roles_errors_and_save(db, tenant_factory, logged_in):
    t = await tenant_factory()
    admin, sup = await logged_in(t, "admin"), await logged_in(t, "supervisor")
    assert (await sup.get(f"/t/{t.slug}/admin/sla")).status_code == 403
    page = await admin.get(f"/t/{t.slug}/admin/sla")
    assert (
        page.status_code == 200 and "Kebijakan SLA" in page.text and "15 dtk" in page.text
    )  # default answer 15 s

    bad = await admin.post(
        f"/t/{t.slug}/admin/sla",
        data={
            "priority": "1",
            "category_id": "",
            "answer_s": "lama",
            "dispatch_s": "2m",
            "acknowledge_s": "5m",
            "arrival_s": "10m",
            "resolution_s": "",
            "warning_pct": "120",
            "escalation_delay_s": "5m",
        },
    )
    assert bad.status_code == 422
    assert 'id="e-answer_s"' in bad.text and 'id="e-warning_pct"' in bad.text
    async with db.tenant(t.slug) as s:
        p1 = (await s.execute(select(SlaPolicy).where(SlaPolicy.scope == "P1"))).scalar_one()
    assert p1.answer_s == 15  # nothing half-written

    async with db.tenant(t.slug) as s:
        from app.dispatch.models import Category

        flood = (await s.execute(select(Category.id).where(Category.code == "flood"))).scalar_one()
    ok = await admin.post(
        f"/t/{t.slug}/admin/sla",
        data={
            "priority": "1",
            "category_id": str(flood),
            "answer_s": "10",
            "dispatch_s": "1m",
            "acknowledge_s": "3m",
            "arrival_s": "1j30m",
            "resolution_s": "",
            "resolution_s_off": "1",
            "warning_pct": "75",
            "escalation_delay_s": "2m",
        },
    )
    assert ok.status_code == 303
    async with db.tenant(t.slug) as s:
        rows = {p.scope: p for p in (await s.execute(select(SlaPolicy))).scalars()}
    override = rows[f"P1/C{flood}"]
    assert (
        override.answer_s,
        override.dispatch_s,
        override.acknowledge_s,
        override.arrival_s,
        override.resolution_s,
        override.warning_pct,
        override.escalation_delay_s,
    ) == (10, 60, 180, 5400, None, 75, 120)
    # Most specific match: a P1 flood dispatch gets 3 min to be acknowledged, a P1 fire one 5 min.
    now = sla_clock.now()
    _, d_flood = await open_dispatch(db, t.slug, now, category_code="flood", opd_code="bpbd")
    _, d_fire = await open_dispatch(db, t.slug, now)
    async with db.tenant(t.slug) as s:
        ack = {
            c.dispatch_id: c
            for c in (await s.execute(select(SlaClock).where(SlaClock.kind == "acknowledge"))).scalars()
        }
    assert ack[d_flood].target_s == 180 and ack[d_flood].policy_id == override.id
    assert ack[d_fire].target_s == 300 and ack[d_fire].policy_id == rows["P1"].id
    # base policies cannot be deleted; overrides can
    assert (await admin.post(f"/t/{t.slug}/admin/sla/{rows['P1'].id}/delete")).status_code == 403
    assert (await admin.post(f"/t/{t.slug}/admin/sla/{override.id}/delete")).status_code == 303


async def test_compliance_report_csv_and_api(db, tenant_factory, logged_in, arq_pool):
    t = await tenant_factory()
    sup, op = await logged_in(t, "supervisor"), await logged_in(t, "operator")
    now = sla_clock.now()
    # Four Damkar acknowledgements: 1, 2, 3 min (met, target 5) and 8 min (late); one BPBD at 4 min.
    for minutes, opd in ((1, "damkar"), (2, "damkar"), (3, "damkar"), (8, "damkar"), (4, "bpbd")):
        _, d = await open_dispatch(db, t.slug, now - timedelta(minutes=20), opd_code=opd)
        await change_status(db, t.slug, d, "acknowledged", now - timedelta(minutes=20 - minutes))

    assert (await op.get(f"/t/{t.slug}/sla")).status_code == 403
    page = await sup.get(f"/t/{t.slug}/sla", params={"kind": "acknowledge"})
    assert page.status_code == 200 and "<svg" in page.text and "Pemadam Kebakaran" in page.text
    frag = await sup.get(f"/t/{t.slug}/sla", params={"kind": "acknowledge"}, headers={"hx-request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text and "<svg" in frag.text
    bad = await sup.get(f"/t/{t.slug}/sla", params={"from": "kemarin"})
    assert bad.status_code == 422 and "Tanggal tidak valid" in bad.text

    resp = await sup.get(f"/t/{t.slug}/sla/report.csv", params={"kind": "acknowledge"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    by_opd = {r["group"]: r for r in rows if r["group_by"] == "opd"}
    damkar = next(v for k, v in by_opd.items() if "Damkar" in k or "Pemadam" in k)
    assert (damkar["total"], damkar["met"], damkar["breached"], damkar["pct_met"]) == ("4", "3", "1", "75.0")
    assert damkar["median_s"] == "150.0"  # median of 60, 120, 180, 480 s
    assert damkar["p90_s"] == "390.0"  # percentile_cont(0.9) = 180 + 0.7 * 300
    day_rows = [r for r in rows if r["group_by"] == "day"]
    assert sum(int(r["total"]) for r in day_rows) == 5

    api = await sup.get(
        f"/api/v1/t/{t.slug}/sla/compliance", params={"kind": "acknowledge", "group_by": "category"}
    )
    assert api.status_code == 200
    (fire,) = api.json()["rows"]
    assert (fire["total"], fire["met"], fire["pct_met"]) == (5, 4, 80.0)
    assert (await sup.get(f"/api/v1/t/{t.slug}/sla/compliance", params={"kind": "nope"})).status_code == 422
    assert (await op.get(f"/api/v1/t/{t.slug}/sla/policies")).status_code == 403
    assert len((await sup.get(f"/api/v1/t/{t.slug}/sla/policies")).json()) == 4


async def test_notifications_visible_per_role_and_other_tenant_refused(
    db, tenant_factory, logged_in, arq_pool, fake_clock
):
    from tests.sla.conftest import run_worker

    t, other = await tenant_factory(), await tenant_factory()
    await open_dispatch(db, t.slug, fake_clock.now() - timedelta(minutes=6))  # acknowledge breached (5 min)
    await run_worker(arq_pool)
    sup = await logged_in(t, "supervisor")
    damkar, pmi = await logged_in(t, "opd_staff", "damkar"), await logged_in(t, "opd_staff", "pmi")
    page = await sup.get(f"/t/{t.slug}/notifications")
    assert page.status_code == 200 and page.text.count("SLA terlampaui") == 2  # supervisors' + Damkar's copy
    assert (await damkar.get(f"/t/{t.slug}/notifications")).text.count("SLA terlampaui") == 1
    assert "SLA terlampaui" not in (await pmi.get(f"/t/{t.slug}/notifications")).text
    async with db.tenant(t.slug) as s:
        clock_id = (await s.execute(select(SlaClock.id).where(SlaClock.kind == "acknowledge"))).scalar_one()
    assert (await sup.get(f"/t/{t.slug}/sla/clocks/{clock_id}")).status_code == 200
    assert (await pmi.get(f"/t/{t.slug}/sla/clocks/{clock_id}")).status_code == 404
    # a user of another tenant reaches none of it
    stranger = await logged_in(other, "admin")
    for path in ("/notifications", "/sla", "/sla/report.csv", f"/sla/clocks/{clock_id}", "/admin/sla"):
        r = await stranger.get(f"/t/{t.slug}{path}", headers={"accept": "application/json"})
        assert r.status_code in (401, 403, 404), (path, r.status_code)


async def test_policy_editor_edits_the_opened_row_and_never_another(db, tenant_factory, logged_in):
    """Issue 21: the blank form was P1 + all categories; one target typed and saved replaced the
    whole P1 row (the other targets became "not measured")."""
    t = await tenant_factory()
    admin = await logged_in(t, "admin")
    async with db.tenant(t.slug) as s:
        p1 = (await s.execute(select(SlaPolicy).where(SlaPolicy.scope == "P1"))).scalar_one()
    before = (p1.answer_s, p1.dispatch_s, p1.acknowledge_s, p1.arrival_s, p1.resolution_s)

    blank = await admin.get(f"/t/{t.slug}/admin/sla")
    assert 'name="policy_id"' not in blank.text
    assert '<option value="1" selected' not in blank.text  # no priority chosen for the admin
    # a "new" policy for a (priority, category) that exists is refused, never an overwrite
    clash = await admin.post(
        f"/t/{t.slug}/admin/sla",
        data={
            "priority": "1",
            "category_id": "",
            "answer_s": "20",
            **{f"{k}_s_off": "1" for k in ("dispatch", "acknowledge", "arrival", "resolution")},
            "warning_pct": "80",
            "escalation_delay_s": "5m",
        },
    )
    assert clash.status_code == 422 and 'id="e-category_id"' in clash.text
    # an empty target is not "not measured" unless the admin says so
    empty = await admin.post(
        f"/t/{t.slug}/admin/sla",
        data={
            "policy_id": str(p1.id),
            "priority": "1",
            "answer_s": "20",
            "warning_pct": "80",
            "escalation_delay_s": "5m",
        },
    )
    assert empty.status_code == 422 and 'id="e-dispatch_s"' in empty.text and "tidak diukur" in empty.text
    async with db.tenant(t.slug) as s:
        again = await s.get(SlaPolicy, p1.id)
        assert (
            again.answer_s,
            again.dispatch_s,
            again.acknowledge_s,
            again.arrival_s,
            again.resolution_s,
        ) == before

    # "Ubah" opens the row with every value filled in; saving it changes that row only
    edit = await admin.get(f"/t/{t.slug}/admin/sla", params={"edit": p1.id})
    assert f'name="policy_id" value="{p1.id}"' in edit.text
    assert 'value="2 mnt"' in edit.text and 'value="15 dtk"' in edit.text
    ok = await admin.post(
        f"/t/{t.slug}/admin/sla",
        data={
            "policy_id": str(p1.id),
            "priority": "3",  # ignored: the opened row keeps its priority and category
            "category_id": "",
            "answer_s": "20 dtk",
            "dispatch_s": "2 mnt",
            "acknowledge_s": "",
            "acknowledge_s_off": "1",
            "arrival_s": "10 mnt",
            "resolution_s": "2 jam",
            "warning_pct": "80",
            "escalation_delay_s": "5 mnt",
        },
    )
    assert ok.status_code == 303
    async with db.tenant(t.slug) as s:
        rows = {p.scope: p for p in (await s.execute(select(SlaPolicy))).scalars()}
    assert (rows["P1"].answer_s, rows["P1"].dispatch_s, rows["P1"].acknowledge_s) == (20, 120, None)
    assert (rows["P1"].arrival_s, rows["P1"].resolution_s) == (600, 7200)
    assert rows["P3"].answer_s == 15  # untouched
