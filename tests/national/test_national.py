"""The national rollups end to end: calls seeded through the real call/dispatch services in
three tenants (two time zones), figures checked on the page, in the API and in the CSV; then the
rollups are dropped and rebuilt from the tenant schemas and must give the same numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select

from app.national.models import national_daily, national_daily_category, national_daily_opd
from app.tenancy.regions import regencies
from tests.national.conftest import PROV

FROM = "2025-03-01"


def until() -> str:
    return (date.today() + timedelta(days=2)).isoformat()  # incidents/dispatches/SLA happen "now"


async def sla_counts(db, tenant) -> tuple[int, int]:
    """The SLA domain's own table, as the independent reference for the met/breached figures: the
    national "SLA (reaksi OPD)" counts only the clocks an OPD runs (attached to a dispatch)."""
    from app.sla.models import SlaClock

    async with db.tenant(tenant.slug) as s:
        rows = dict(
            (
                await s.execute(
                    select(SlaClock.met, func.count())
                    .where(SlaClock.close_reason == "done", SlaClock.subject == "dispatch")
                    .group_by(SlaClock.met)
                )
            ).all()
        )
    return rows.get(True, 0), rows.get(False, 0)


async def call_centre_clocks(db, tenant) -> int:
    """Closed answer/dispatch clocks (the call centre's own): present, and never in the OPD figure."""
    from app.sla.models import SlaClock

    async with db.tenant(tenant.slug) as s:
        return (
            await s.execute(
                select(func.count()).where(SlaClock.close_reason == "done", SlaClock.subject != "dispatch")
            )
        ).scalar_one()


def q(**extra) -> dict:
    return {"from": FROM, "to": until(), "province": PROV, **extra}


async def test_api_figures_match_the_seeded_calls(kominfo_client, seeded, db):
    a, b = seeded["a"], seeded["b"]
    met, breached = await sla_counts(db, a)
    assert met + breached >= 1  # the acknowledged dispatch closed at least one clock
    assert await call_centre_clocks(db, a) >= 5  # answer clocks closed too: they must not count

    resp = await kominfo_client.get("/api/v1/national/regencies", params=q(sort="calls", dir="desc"))
    assert resp.status_code == 200, resp.text
    rows = {r["slug"]: r for r in resp.json()["regencies"]}
    assert set(rows) == {a.slug, b.slug}
    ra = rows[a.slug]
    assert (ra["calls"], ra["emergency"], ra["prank_silent"]) == (10, 2, 5)
    assert ra["prank_silent_ratio"] == 0.5
    assert (ra["answer_p50_s"], ra["answer_p90_s"]) == (10, 300)
    assert (ra["incidents"], ra["dispatches"]) == (2, 3)
    assert (ra["sla_met"], ra["sla_breached"]) == (met, breached)
    assert ra["status"] == "active" and ra["launch_ordinal"] is not None
    rb = rows[b.slug]
    assert (rb["calls"], rb["emergency"], rb["prank_silent"], rb["answer_p90_s"]) == (3, 0, 2, 3)
    assert rb["launch_ordinal"] is None and rb["status"] == "verified"

    summary = (await kominfo_client.get("/api/v1/national/summary", params=q())).json()
    f = summary["figures"]
    assert f["calls"] == 13 and f["answered"] == 11
    assert f["by_outcome"] == {
        "emergency": 2,
        "non_emergency_info": 2,
        "prank": 4,
        "silent": 3,
        "misdial": 1,
        "duplicate": 0,
        "unclassified": 1,
    }
    assert f["prank_silent_ratio"] == round(7 / 13, 4)
    assert f["answer_avg_s"] == round((304 + 9) / 11, 1)
    assert summary["incidents_by_category"] == {"fire": 1, "medical": 1}
    assert summary["dispatches_by_opd_type"] == {"ambulans": 1, "bpbd": 1, "damkar": 1}
    met_b, breached_b = await sla_counts(db, b)
    assert (f["sla_met"], f["sla_breached"]) == (met + met_b, breached + breached_b)

    series = (
        await kominfo_client.get(
            "/api/v1/national/calls/timeseries",
            params={"from": "2025-03-10", "to": "2025-03-11", "province": PROV},
        )
    ).json()
    assert series["granularity"] == "day"
    assert [(p["date"], p["calls_total"], p["prank_silent"]) for p in series["points"]] == [
        ("2025-03-10", 12, 6),
        ("2025-03-11", 1, 1),
    ]
    bali = (
        await kominfo_client.get(
            "/api/v1/national/calls/timeseries",
            params={"from": "2025-03-10", "to": "2025-03-11", "province": "Bali"},
        )
    ).json()
    assert [p["calls_total"] for p in bali["points"]] == [1, 1]  # the WITA day boundary

    rollout = (await kominfo_client.get("/api/v1/national/rollout", params={"province": PROV})).json()
    in_province = sum(1 for r in regencies().values() if r.province == PROV)
    assert (rollout["total"], rollout["active"], rollout["verified"], rollout["pending"]) == (
        in_province,
        1,
        1,
        0,
    )
    assert rollout["not_joined"] == in_province - 2
    assert [x["slug"] for x in rollout["launches"]] == [a.slug] and rollout["timeline"] == [
        {"year": 1999, "launched": 1}
    ]
    national = (await kominfo_client.get("/api/v1/national/rollout")).json()
    assert national["total"] == 514
    order = [x["slug"] for x in national["launches"]]
    assert order.index(seeded["c"].slug) < order.index(a.slug)  # C launched first (1998)

    provinces = {
        p["name"]: p
        for p in (await kominfo_client.get("/api/v1/national/provinces", params=q(province=None))).json()[
            "provinces"
        ]
    }
    assert len(provinces) >= 38
    assert provinces[PROV]["figures"]["calls"] == 13 and provinces[PROV]["active"] == 1


def _kpi(html: str, name: str) -> str:
    """'<value> | <sub line>' of one KPI tile."""
    m = re.search(
        rf'data-kpi="{name}">.*?<strong>(.*?)</strong><span class="kpi-sub">(.*?)</span>', html, re.S
    )
    assert m, name
    return " | ".join(re.sub(r"\s+", " ", g).strip() for g in m.groups())


async def test_page_shows_the_same_figures(kominfo_client, seeded, db):
    a, b = seeded["a"], seeded["b"]
    met, breached = await sla_counts(db, a)
    resp = await kominfo_client.get("/national", params=q(), headers={"accept": "text/html"})
    assert resp.status_code == 200
    html = resp.text
    met_b, breached_b = await sla_counts(db, b)
    assert _kpi(html, "calls") == "13 | 11 dijawab"
    assert _kpi(html, "emergency") == "2 | 2 insiden · 3 penugasan"
    assert _kpi(html, "prank_silent") == "53,8% | 7 panggilan"
    in_province = sum(1 for r in regencies().values() if r.province == PROV)
    assert _kpi(html, "active") == f"1 | dari {in_province} di provinsi ini"
    m, br = met + met_b, breached + breached_b
    assert (
        _kpi(html, "sla")
        == f"{m / (m + br) * 100:.1f}%".replace(".", ",") + f" | {m} terpenuhi · {br} terlewati"
    )
    # A: 1,4,4,8,12,25,50,200 s; B: 3,3,3 s → p50 bucket ≤ 5 s, p90 bucket ≤ 60 s
    assert _kpi(html, "answer") == "≤ 5 dtk | p90 ≤ 60 dtk · rata-rata 28.5 dtk"
    row = re.search(rf'<tr data-slug="{a.slug}">(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row))
    assert cells == {
        "calls": "10",
        "emergency": "2",
        "prank_silent_ratio": "50,0%",
        "sla_compliance": f"{met / (met + breached) * 100:.1f}%".replace(".", ","),
        "answer_p90_s": "≤ 300 dtk",
        "incidents": "2",
        "dispatches": "3",
    }
    assert 'data-province="Papua Pegunungan"' in html and "CC BY 4.0" in html  # map + its credit

    # Sorting through htmx returns only the table, in the asked order, and pushes nothing else.
    part = await kominfo_client.get(
        "/national",
        params=q(sort="calls", dir="asc"),
        headers={"hx-request": "true", "hx-target": "regencies"},
    )
    assert part.status_code == 200 and "<html" not in part.text and 'id="f-sort"' in part.text
    slugs = re.findall(r'<tr data-slug="([^"]+)"', part.text)
    assert slugs == [b.slug, a.slug]
    part = await kominfo_client.get(
        "/national", params=q(), headers={"hx-request": "true", "hx-target": "dashboard"}
    )
    assert part.status_code == 200 and "<html" not in part.text and 'data-kpi="calls"' in part.text


async def test_csv_exports(kominfo_client, seeded):
    a = seeded["a"]
    resp = await kominfo_client.get("/national/export/regencies.csv", params=q())
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = {r["region_code"]: r for r in csv.DictReader(io.StringIO(resp.text))}
    assert rows[a.region_code]["calls"] == "10" and rows[a.region_code]["prank_silent"] == "5"
    for name in ("rollout", "launches", "timeseries", "provinces", "categories", "opds"):
        resp = await kominfo_client.get(f"/national/export/{name}.csv", params=q())
        assert resp.status_code == 200, name
        assert len(resp.text.splitlines()) >= 2, name
    cats = list(
        csv.DictReader(
            io.StringIO((await kominfo_client.get("/national/export/categories.csv", params=q())).text)
        )
    )
    assert {(c["category_code"], c["incidents"]) for c in cats} == {("fire", "1"), ("medical", "1")}
    assert (await kominfo_client.get("/national/export/nope.csv")).status_code == 404


async def _snapshot(db, ids):
    out = {}
    async with db.public() as s:
        for table in (national_daily, national_daily_category, national_daily_opd):
            rows = (await s.execute(select(table).where(table.c.tenant_id.in_(ids)))).mappings().all()
            out[table.name] = sorted(tuple(sorted(dict(r).items())) for r in rows)
    return out


async def test_drop_and_rebuild_gives_the_same_numbers(kominfo_client, seeded, db):
    from app.national.jobs import national_rebuild_tenant
    from app.national.rollup import rebuild_all

    tenants = [seeded[k] for k in "abc"]
    ids = [t.id for t in tenants]
    before = await _snapshot(db, ids)
    assert before["national_daily"] and before["national_daily_opd"]
    api_before = (await kominfo_client.get("/api/v1/national/regencies", params=q())).json()

    async with db.public() as s:
        for table in (national_daily, national_daily_category, national_daily_opd):
            await s.execute(delete(table).where(table.c.tenant_id.in_(ids)))
        await s.commit()
    assert (await kominfo_client.get("/api/v1/national/summary", params=q())).json()["figures"]["calls"] == 0

    for t in tenants[:2]:
        await national_rebuild_tenant({"db": db}, t.slug)
    result = await rebuild_all(db, [tenants[2].slug])
    assert result.ok == [tenants[2].slug] and not result.failed
    assert await _snapshot(db, ids) == before
    assert (await kominfo_client.get("/api/v1/national/regencies", params=q())).json() == api_before

    # A corrupted counter is repaired by the recount, and a second recount changes nothing.
    async with db.public() as s:
        await s.execute(
            national_daily.update()
            .where(national_daily.c.tenant_id == ids[0])
            .values(calls_total=national_daily.c.calls_total + 7, calls_prank=0)
        )
        await s.commit()
    await national_rebuild_tenant({"db": db}, tenants[0].slug)
    await national_rebuild_tenant({"db": db}, tenants[0].slug)
    assert await _snapshot(db, ids) == before


async def test_unknown_tenant_rebuild_fails_loudly(db):
    from app.national.rollup import rebuild_all

    result = await rebuild_all(db, ["no_such_tenant"])
    assert result.failed and not result.ok


# --- validation -----------------------------------------------------------------------------------


async def test_bad_filters_are_422_with_field_messages(kominfo_client):
    resp = await kominfo_client.get(
        "/api/v1/national/summary", params={"from": "2025-03-10", "to": "2025-03-01"}
    )
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["from"]
    resp = await kominfo_client.get("/api/v1/national/regencies", params={"province": "Atlantis"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "province"
    resp = await kominfo_client.get("/api/v1/national/summary", params={"from": "kemarin"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "from"
    resp = await kominfo_client.get("/api/v1/national/regencies", params={"sort": "drop table"})
    assert resp.status_code == 422

    page = await kominfo_client.get(
        "/national", params={"from": "kemarin", "province": "Atlantis"}, headers={"accept": "text/html"}
    )
    assert page.status_code == 422
    assert 'id="e-from"' in page.text and 'id="e-province"' in page.text and 'data-kpi="calls"' in page.text


# --- permissions ----------------------------------------------------------------------------------


async def test_operator_cannot_see_national(operator_client):
    resp = await operator_client.get("/national", headers={"accept": "text/html"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    assert (await operator_client.get("/api/v1/national/summary")).status_code == 401
    assert (await operator_client.get("/national/export/regencies.csv")).status_code == 401


async def test_anonymous_and_wrong_platform_role(client, db):
    assert (await client.get("/api/v1/national/rollout")).status_code == 401
    assert (
        await client.get("/api/v1/national/rollout", headers={"authorization": "Bearer nope"})
    ).status_code == 401
    resp = await client.get("/national", headers={"accept": "text/html"})
    assert resp.status_code == 303


async def test_kominfo_sees_national(kominfo_client):
    resp = await kominfo_client.get("/national", headers={"accept": "text/html"})
    assert resp.status_code == 200 and "Dasbor Nasional 112" in resp.text
    assert (await kominfo_client.get("/api/v1/national/rollout")).status_code == 200


async def test_api_token_needs_national_read_scope(client, db, kominfo_user):
    pytest.importorskip("app.security.service")
    from app.auth.models import PlatformUser
    from app.security.models import PlatformApiToken
    from app.security.service import create_token

    async with db.public() as s:
        actor = await s.get(PlatformUser, kominfo_user.id)
        _, good = await create_token(
            s,
            None,
            actor,
            PlatformApiToken,
            name="dasbor",
            kind="service",
            scopes=["national:read"],
            user_id=None,
        )
        _, other = await create_token(
            s, None, actor, PlatformApiToken, name="lain", kind="service", scopes=[], user_id=None
        )
    resp = await client.get("/api/v1/national/rollout", headers={"authorization": f"Bearer {good}"})
    assert resp.status_code == 200 and resp.json()["total"] == 514
    resp = await client.get("/api/v1/national/rollout", headers={"authorization": f"Bearer {other}"})
    assert resp.status_code == 403


async def test_openapi_documents_the_national_api(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    for p in (
        "/api/v1/national/rollout",
        "/api/v1/national/summary",
        "/api/v1/national/calls/timeseries",
        "/api/v1/national/provinces",
        "/api/v1/national/regencies",
    ):
        assert p in paths, p
    assert not any(p.startswith("/national") for p in paths)


async def test_prank_trends_by_province_show_no_number(
    kominfo_client, client, db, tenant_factory, user_factory
):
    """The reputation panel of the dashboard: counts by province, never a number or a hash."""
    from app.calls import service as calls
    from app.calls.schemas import CallCreate
    from app.core.principal import Principal
    from app.events import load_subscribers

    load_subscribers()
    tenant = await tenant_factory(prefix="trend")
    user = await user_factory(tenant, "operator")
    who = Principal("tenant", user.id, "operator", "Op", tenant_slug=tenant.slug)
    async with db.tenant(tenant.slug) as s:
        for _ in range(3):
            await calls.create_call(
                calls.Ctx(s, tenant, who), CallCreate(caller_number="+6281377712345", outcome="prank")
            )
    resp = await kominfo_client.get("/national/prank-trends")
    assert resp.status_code == 200
    assert "Sumatera Barat" in resp.text and "+62813777" not in resp.text and "6281377712345" not in resp.text
    assert (await client.get("/national/prank-trends")).status_code in (303, 401, 403)
