"""Bounded dates and numbers, and the sloppy edges: 422 naming the field instead of a 500,
ASCII digits only, no Python error text, a body cap on every route, uploads under DATA_DIR."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.calls.models import Call
from app.config import Settings
from app.dispatch.models import Category
from tests.security.conftest import logged_in_client

FAR = "9999-12-31"
HTML = {"accept": "text/html"}


@pytest.fixture
async def supervisor(app, tenant_a, user_factory):
    c = await logged_in_client(app, tenant_a, await user_factory(tenant_a, "supervisor"))
    c.headers["x-csrf-token"] = c.csrf
    yield c
    await c.aclose()


async def test_extreme_dates_are_422_naming_the_field(
    supervisor, operator_client, admin_client, platform_admin_client, tenant_a
):
    slug = tenant_a.slug
    cases = [
        (operator_client, f"/api/v1/t/{slug}/calls", {"date_to": FAR}, "date_to"),
        (operator_client, f"/api/v1/t/{slug}/calls", {"date_from": "0001-01-01"}, "date_from"),
        (supervisor, f"/api/v1/t/{slug}/sla/compliance", {"to": FAR}, "to"),
        (supervisor, f"/t/{slug}/sla", {"to": FAR}, "to"),
        (supervisor, f"/t/{slug}/sla/report.csv", {"to": FAR}, "to"),
        (admin_client, f"/t/{slug}/admin/audit", {"date_to": FAR}, "date_to"),
        (admin_client, f"/t/{slug}/admin/audit.csv", {"date_to": FAR}, "date_to"),
        (platform_admin_client, "/platform/audit", {"date_to": FAR}, "date_to"),
        (platform_admin_client, "/platform/audit.csv", {"date_to": FAR}, "date_to"),
    ]
    for client, path, params, field in cases:
        resp = await client.get(path, params=params)
        assert resp.status_code == 422, (path, resp.status_code, resp.text[:200])
        if path.startswith("/api/"):
            assert [e["field"] for e in resp.json()["errors"]] == [field], path
        else:
            assert field in resp.text, path


async def test_calls_outside_the_intake_window_are_refused(operator_client, tenant_a, db):
    async def count() -> int:
        async with db.tenant(tenant_a.slug) as s:
            return (await s.execute(select(func.count()).select_from(Call))).scalar_one()

    before = await count()
    for when in ("0001-01-01T00:00:00Z", "1969-07-20T20:17:00Z", "2000-01-01T00:00:00+07:00"):
        resp = await operator_client.post(
            f"/api/v1/t/{tenant_a.slug}/calls", json={"caller_number": "081234567890", "received_at": when}
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "received_at", when
    assert await count() == before


async def test_window_is_a_setting():
    assert Settings(call_time_past_s=3600).call_time_past_s == 3600
    assert Settings().call_time_past_s == 24 * 3600


async def test_every_422_names_its_field(operator_client, tenant_a):
    api = f"/api/v1/t/{tenant_a.slug}"
    for path, field in ((f"{api}/calls/{2**40}", "call_id"), (f"{api}/calls/0", "call_id")):
        resp = await operator_client.get(path)
        assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == [field], resp.text
    resp = await operator_client.post(
        f"{api}/calls", json={"caller_number": "081234567890", "notes": "a\u0000b"}
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "notes"
    resp = await operator_client.post(
        f"{api}/calls", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422 and all(e["field"] for e in resp.json()["errors"])


async def test_unicode_digits_are_not_numbers(admin_client, tenant_a, db):
    slug = tenant_a.slug
    async with db.tenant(slug) as s:
        fire = (await s.execute(select(Category).where(Category.code == "fire"))).scalar_one()
    resp = await admin_client.post(
        f"/t/{slug}/admin/categories/{fire.id}",
        headers=HTML,
        data={
            "csrf_token": admin_client.csrf,
            "name": "Kebakaran",
            "default_priority": "١",  # Arabic-Indic one: int() would say 1
            "sort_order": "٣",
            "is_active": "on",
        },
    )
    assert resp.status_code == 422
    assert 'id="e-default_priority"' in resp.text and 'id="e-sort_order"' in resp.text
    policy = await admin_client.post(
        f"/t/{slug}/admin/sla",
        data={"csrf_token": admin_client.csrf, "priority": "١", "answer_s": "١٥"},
    )
    assert policy.status_code == 422 and 'id="e-priority"' in policy.text and 'id="e-answer_s"' in policy.text


async def test_no_python_error_text_reaches_the_operator(operator_client, tenant_a):
    resp = await operator_client.post(
        f"/t/{tenant_a.slug}/calls",
        headers={**HTML, "hx-request": "true"},
        data={"call_id": "abc", "caller_number": "081234567890", "csrf_token": operator_client.csrf},
    )
    assert resp.status_code == 422
    assert "invalid literal" not in resp.text and "base 10" not in resp.text
    assert "ID panggilan harus berupa angka" in resp.text


async def test_body_size_is_capped_on_every_route(app, settings, tenant_a, operator_client):
    big = b"x" * (settings.max_body_bytes + 1)
    for path in (f"/api/v1/t/{tenant_a.slug}/calls", f"/t/{tenant_a.slug}/login", "/login", "/signup"):
        resp = await operator_client.post(path, content=big, headers={"content-type": "application/json"})
        assert resp.status_code == 413, path
        assert len(resp.content) < 1000 and "terlalu besar" in resp.json()["detail"]

    async def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    resp = await operator_client.post(
        f"/api/v1/t/{tenant_a.slug}/calls", content=chunks(), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413 and len(resp.content) < 1000


def test_uploads_follow_data_dir(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("UPLOAD_DIR", raising=False)
    assert Settings(data_dir=tmp_path).upload_dir == tmp_path / "uploads"
    assert Settings(data_dir=tmp_path, upload_dir=tmp_path / "x").upload_dir == tmp_path / "x"
