"""Recordings: audio only, signed uploads or safe fetches, allowed roles, audited access, retention."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.audit.models import AuditLog
from app.recordings import audio
from app.recordings.jobs import recordings_purge
from app.recordings.models import Recording
from tests.conftest import csrf_of, login
from tests.recordings.conftest import wav_bytes
from tests.servers import served
from tests.telephony.conftest import event, new_id, post_signed

WAV = wav_bytes(0.5)


@pytest.fixture(scope="module")
async def rec_tenant(db, tenant_factory):
    from app.calls.service import Ctx
    from app.core.principal import Principal
    from app.telephony import service

    tenant = await tenant_factory(prefix="rec")
    async with db.tenant(tenant.slug) as s:
        ctx = Ctx(
            session=s,
            tenant=tenant,
            actor=Principal(kind="tenant", user_id=None, role="admin", name="x"),
        )
        secret = await service.rotate_secret(ctx)
    return dataclasses.replace(tenant, secret=secret)


def test_sniff_accepts_audio_containers_and_refuses_the_rest():
    assert audio.sniff(WAV[:16]) == ("audio/wav", "wav")
    assert audio.sniff(b"ID3\x04\x00\x00\x00\x00\x00\x00")[0] == "audio/mpeg"
    assert audio.sniff(b"\xff\xfb\x90\x64\x00")[0] == "audio/mpeg"
    assert audio.sniff(b"OggS\x00\x02")[0] == "audio/ogg"
    assert audio.sniff(b"fLaC\x00\x00\x00\x22")[0] == "audio/flac"
    assert audio.sniff(b"#!AMR\n<")[0] == "audio/amr"
    assert audio.sniff(b"\x00\x00\x00\x20ftypM4A \x00\x00")[0] == "audio/mp4"
    for not_audio in (
        b"<html><script>",
        b"\x89PNG\r\n\x1a\n",
        b"MZ\x90\x00",
        b"%PDF-1.7",
        b"RIFF\x00\x00\x00\x00AVI ",
        b"",
    ):
        assert audio.sniff(not_audio) is None, not_audio


async def _call(client, tenant, number="+6281399900001") -> tuple[str, int]:
    ext = new_id("c")
    r = await post_signed(client, tenant.slug, tenant.secret, event("ringing", ext, caller=number))
    return ext, r.json()["call_id"]


async def _upload(client, tenant, ext: str, body: bytes, content_type="audio/wav"):
    return await post_signed(
        client,
        tenant.slug,
        tenant.secret,
        body,
        path=f"calls/{ext}/recording",
        headers={"content-type": content_type},
    )


async def _count(db, tenant, call_id) -> int:
    async with db.tenant(tenant.slug) as s:
        return len((await s.execute(select(Recording).where(Recording.call_id == call_id))).all())


async def test_signed_wav_is_stored_and_bad_uploads_store_nothing(client, db, rec_tenant, local_store):
    ext, call_id = await _call(client, rec_tenant)
    html = await _upload(client, rec_tenant, ext, b"<html><body>not audio</body></html>", "audio/wav")
    assert html.status_code == 422 and "Bukan berkas audio" in html.text
    unsigned = await client.post(
        f"/api/v1/t/{rec_tenant.slug}/telephony/calls/{ext}/recording",
        content=WAV,
        headers={"content-type": "audio/wav"},
    )
    assert unsigned.status_code == 401
    unknown = await _upload(client, rec_tenant, "no-such-call", WAV)
    assert unknown.status_code == 404
    assert await _count(db, rec_tenant, call_id) == 0
    assert not any(local_store.root.rglob("*.*")) if local_store.root.exists() else True

    ok = await _upload(client, rec_tenant, ext, WAV)
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["media_type"] == "audio/wav" and body["bytes"] == len(WAV)
    files = [p for p in local_store.root.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == WAV and files[0].suffix == ".wav"
    assert await _count(db, rec_tenant, call_id) == 1


async def test_recording_fetched_from_a_url_safely(client, db, rec_tenant, local_store, monkeypatch):
    async def wav(request):
        return Response(WAV, media_type="audio/wav")

    async def html(request):
        return Response(b"<!doctype html><p>login</p>", media_type="audio/wav")

    async def redirect(request):
        return RedirectResponse("http://169.254.169.254/latest/meta-data/")

    media = Starlette(routes=[Route("/r.wav", wav), Route("/page", html), Route("/moved", redirect)])
    ext, call_id = await _call(client, rec_tenant, "+6281399900002")
    with served(media) as url:

        async def post(u):
            return await post_signed(
                client, rec_tenant.slug, rec_tenant.secret, {"url": u}, path=f"calls/{ext}/recording"
            )

        # Not allow-listed: a loopback http URL is refused before any request (SSRF).
        r = await post(f"{url}/r.wav")
        assert r.status_code == 422 and "https" in r.text
        r = await post(f"https://127.0.0.1:{url.rsplit(':', 1)[1]}/r.wav")
        assert r.status_code == 422 and "jaringan internal" in r.text
        monkeypatch.setenv("RECORDINGS_FETCH_HOSTS", url.removeprefix("http://"))
        assert (await post(f"{url}/moved")).status_code == 422  # redirects are not followed
        assert (await post(f"{url}/page")).status_code == 422  # not audio, whatever its content type
        assert (await post("http://user:pw@example.org/r.wav")).status_code == 422
        assert await _count(db, rec_tenant, call_id) == 0
        ok = await post(f"{url}/r.wav")
        assert ok.status_code == 201, ok.text
    async with db.tenant(rec_tenant.slug) as s:
        rec = (await s.execute(select(Recording).where(Recording.call_id == call_id))).scalar_one()
        assert rec.source_url == f"{url}/r.wav" and rec.size_bytes == len(WAV)


async def _as(client, tenant, user):
    client.cookies.clear()
    assert (await login(client, tenant.slug, user.email)).status_code == 303


async def test_only_allowed_roles_hear_it_and_every_access_is_audited(
    client, db, rec_tenant, local_store, user_factory
):
    ext, call_id = await _call(client, rec_tenant, "+6281399900003")
    rec_id = (await _upload(client, rec_tenant, ext, WAV)).json()["recording_id"]
    url = f"/t/{rec_tenant.slug}/recordings/{rec_id}/audio"
    supervisor = await user_factory(rec_tenant, "supervisor")
    stranger = await user_factory(rec_tenant, "operator")
    taker = await user_factory(rec_tenant, "operator")
    async with db.tenant(rec_tenant.slug) as s:
        from app.calls.models import Call

        await s.execute(update(Call).where(Call.id == call_id).values(operator_id=taker.id))
        await s.commit()

    await _as(client, rec_tenant, supervisor)
    full = await client.get(url)
    assert full.status_code == 200 and full.content == WAV and full.headers["content-type"] == "audio/wav"
    part = await client.get(url, headers={"range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == WAV[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(WAV)}"
    tail = await client.get(url, headers={"range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == WAV[-10:]
    assert (await client.get(url, headers={"range": f"bytes={len(WAV) + 5}-"})).status_code == 416
    page = await client.get(f"/t/{rec_tenant.slug}/calls/{call_id}")
    assert page.status_code == 200 and f'src="{url}"' in page.text

    await _as(client, rec_tenant, stranger)
    denied = await client.get(url)
    assert denied.status_code == 403
    page = await client.get(f"/t/{rec_tenant.slug}/calls/{call_id}")
    assert "<audio" not in page.text and "Hanya supervisor" in page.text

    await _as(client, rec_tenant, taker)
    assert (await client.get(url)).content == WAV

    async with db.tenant(rec_tenant.slug) as s:
        rows = (
            await s.execute(
                select(AuditLog.action, AuditLog.actor_id)
                .where(AuditLog.entity == "recording", AuditLog.entity_id == str(rec_id))
                .order_by(AuditLog.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("recording.stored", None),
        ("recording.played", supervisor.id),
        ("recording.played", supervisor.id),
        ("recording.played", supervisor.id),
        ("recording.played", supervisor.id),
        ("recording.denied", stranger.id),
        ("recording.played", taker.id),
    ]


async def test_retention_set_per_regency_and_purged_by_the_job(
    client, db, rec_tenant, local_store, user_factory
):
    ext, call_id = await _call(client, rec_tenant, "+6281399900004")
    rec_id = (await _upload(client, rec_tenant, ext, WAV)).json()["recording_id"]
    admin = await user_factory(rec_tenant, "admin")
    await _as(client, rec_tenant, admin)
    token = await csrf_of(client, f"/t/{rec_tenant.slug}/admin/recordings")
    bad = await client.post(
        f"/t/{rec_tenant.slug}/admin/recordings", data={"retention_days": "0", "csrf_token": token}
    )
    assert bad.status_code == 422 and "antara 1 dan 3650" in bad.text
    bad = await client.post(
        f"/t/{rec_tenant.slug}/admin/recordings", data={"retention_days": "abc", "csrf_token": token}
    )
    assert bad.status_code == 422 and "bilangan bulat" in bad.text
    ok = await client.post(
        f"/t/{rec_tenant.slug}/admin/recordings", data={"retention_days": "7", "csrf_token": token}
    )
    assert ok.status_code == 303
    async with db.tenant(rec_tenant.slug) as s:
        rec = (await s.execute(select(Recording).where(Recording.id == rec_id))).scalar_one()
        assert rec.delete_after - rec.received_at == timedelta(days=7)
        # Eight days later (moved back in time rather than waiting):
        await s.execute(
            update(Recording)
            .where(Recording.id == rec_id)
            .values(
                received_at=datetime.now(UTC) - timedelta(days=8),
                delete_after=datetime.now(UTC) - timedelta(days=1),
            )
        )
        await s.commit()
    path = next(p for p in local_store.root.rglob("*") if p.is_file() and str(call_id) in str(p.parent))
    assert await recordings_purge({"db": db}) >= 1
    assert not path.exists()
    async with db.tenant(rec_tenant.slug) as s:
        rec = (await s.execute(select(Recording).where(Recording.id == rec_id))).scalar_one()
        assert rec.deleted_at is not None
        assert (
            await s.execute(
                select(AuditLog).where(
                    AuditLog.action == "recording.deleted", AuditLog.entity_id == str(rec_id)
                )
            )
        ).first()
    assert (await client.get(f"/t/{rec_tenant.slug}/recordings/{rec_id}/audio")).status_code == 404
