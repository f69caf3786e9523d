"""Issue 21 over HTTP: one glossary for every label, a menu reaching every page a role may use,
the map's home view and tile source, /national refusing bad ranges instead of falling back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from app import glossary
from app.config import get_settings
from app.tenancy.models import Tenant
from app.web.security_headers import csp

MAIN_MENU = re.compile(r'<nav aria-label="Menu utama">(.*?)</nav>', re.S)
ADMIN_MENU = re.compile(r'<nav class="subnav" aria-label="Menu admin">(.*?)</nav>', re.S)
HREF = re.compile(r'href="(/[^"#?]*)"')


def test_glossary_words_and_durations():
    assert glossary.duration(4) == "4 dtk"  # was "4d", read as four days
    assert glossary.duration(245) == "4 mnt 5 dtk"
    assert glossary.duration(5400) == "1 jam 30 mnt"
    assert glossary.label("opd_staff", "role") == "Petugas OPD"
    assert glossary.label("submitted", "application_status") == "Diajukan"
    assert glossary.label("answered", "telephony_state") == "Dijawab"
    assert glossary.label("something_new", "role") == "something_new"  # shown, never hidden
    assert glossary.audit_action("user.deactivate") == "Pengguna: dinonaktifkan"
    assert glossary.audit_change({"role": "operator"}, {"role": "admin", "x": None}) == [
        ("role", "operator", "admin"),
        ("x", "", "–"),
    ]


async def _menu(client, path: str) -> tuple[str, list[str]]:
    page = await client.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200, (path, page.status_code)
    menu = MAIN_MENU.search(page.text)
    assert menu, f"no main menu on {path}"
    return page.text, HREF.findall(menu.group(1))


@pytest.mark.parametrize(
    "role,home,must",
    [
        ("operator", "/", {"/", "/telephony/callbacks", "/notifications"}),
        ("supervisor", "/", {"/", "/sla", "/notifications", "/telephony/watch"}),
        ("admin", "/", {"/", "/sla", "/notifications", "/admin/"}),
        ("opd_staff", "/opd", {"/opd", "/notifications"}),
    ],
)
async def test_the_menu_reaches_every_page_of_the_role(tenant_factory, logged_in, role, home, must):
    t = await tenant_factory(prefix="nav")
    client = await logged_in(t, role)
    base = f"/t/{t.slug}"
    text, links = await _menu(client, base + home)
    assert {base + p for p in must} <= set(links), links
    for link in links:  # every link of the menu opens for this role
        assert (await client.get(link, headers={"accept": "text/html"})).status_code == 200, link
    assert f"({glossary.ROLE[role]})" in text  # the role in words, not "(opd_staff)"


async def test_every_admin_page_keeps_the_admin_menu(tenant_factory, logged_in):
    t = await tenant_factory(prefix="adm")
    admin = await logged_in(t, "admin")
    page = await admin.get(f"/t/{t.slug}/admin/", headers={"accept": "text/html"})
    links = HREF.findall(ADMIN_MENU.search(page.text).group(1))
    for needed in ("/admin/sla", "/admin/tokens", "/admin/audit", "/admin/sso", "/admin/map"):
        assert f"/t/{t.slug}{needed}" in links
    for link in links:
        sub = await admin.get(link, headers={"accept": "text/html"})
        assert sub.status_code == 200 and ADMIN_MENU.search(sub.text), link


async def test_kominfo_desk_and_national_dashboard_link_to_each_other(kominfo_client):
    _, from_desk = await _menu(kominfo_client, "/kominfo/verifications")
    _, from_national = await _menu(kominfo_client, "/national")
    assert "/national" in from_desk and "/kominfo/verifications" in from_national


async def test_national_htmx_filter_with_a_bad_range_is_an_error_not_a_fallback(kominfo_client):
    bad = {"from": "2026-03-10", "to": "2026-03-01"}
    resp = await kominfo_client.get(
        "/national", params=bad, headers={"hx-request": "true", "hx-target": "dashboard"}
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["errors"][0]["field"] == "from" and "sebelum" in body["errors"][0]["message"]
    page = await kominfo_client.get("/national", params=bad, headers={"accept": "text/html"})
    assert page.status_code == 422
    assert 'value="2026-03-10"' in page.text and 'id="filter-errors"' in page.text  # the typed dates stay


async def test_map_opens_on_the_regency_and_tiles_come_only_from_allowed_servers(
    db, tenant_factory, logged_in
):
    t = await tenant_factory(prefix="map")
    admin = await logged_in(t, "admin")
    console = await admin.get(f"/t/{t.slug}/", headers={"accept": "text/html"})
    lat = float(re.search(r'data-lat="([-0-9.]+)"', console.text).group(1))
    assert lat != -2.5  # not "all of Indonesia": the province extent until a home view is set
    assert 'data-tiles=""' in console.text and "Peta dasar tidak tersedia" in console.text
    assert "openstreetmap.org" not in console.text

    refused = await admin.post(
        f"/t/{t.slug}/admin/map",
        data={
            "lat": "-0.8",
            "lon": "100.65",
            "zoom": "13",
            "tiles_url": "https://tile.example.com/{z}/{x}/{y}.png",
        },
    )
    assert (
        refused.status_code == 422
        and 'id="e-tiles_url"' in refused.text
        and 'id="e-attribution"' in refused.text
    )
    bad = await admin.post(f"/t/{t.slug}/admin/map", data={"lat": "52.5", "lon": "13.4", "zoom": "30"})
    assert bad.status_code == 422 and 'id="e-lat"' in bad.text and 'id="e-zoom"' in bad.text
    ok = await admin.post(f"/t/{t.slug}/admin/map", data={"lat": "-0.7997", "lon": "100.6541", "zoom": "14"})
    assert ok.status_code == 303
    console = await admin.get(f"/t/{t.slug}/", headers={"accept": "text/html"})
    assert 'data-lat="-0.7997" data-lon="100.6541" data-zoom="14"' in console.text
    async with db.public() as s:
        await s.execute(update(Tenant).where(Tenant.slug == t.slug).values(map_lat=None, map_lon=None))
        await s.commit()


def test_csp_allows_exactly_the_configured_tile_servers():
    from app.tenancy.mapview import allowed_tile_origins

    settings = get_settings().model_copy(
        update={
            "map_tiles_url": "https://peta.example.go.id/{z}/{x}/{y}.png",
            "map_tile_origins": "https://b.example.id",
        }
    )
    origins = allowed_tile_origins(settings)
    assert origins == ["https://b.example.id", "https://peta.example.go.id"]
    assert "img-src 'self' data: https://b.example.id https://peta.example.go.id;" in csp(origins)


async def test_demo_manifests_seed_a_home_view(db):
    from app.tenancy.manifest import MANIFEST_DIR, discover, load

    paths = discover(MANIFEST_DIR)
    assert len(paths) == 6
    for path in paths:
        m = load(path)
        assert m.map["map_zoom"] >= 9 and -11 < m.map["map_lat"] < 6, path.name
    assert select(Tenant.map_lat) is not None
