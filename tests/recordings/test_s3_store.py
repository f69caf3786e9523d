"""The S3 store against a real S3-compatible server (moto in server mode, its own process), with
SigV4 signatures validated: the right key works, a wrong secret is refused by the server."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from sqlalchemy import select

from app.recordings.models import Recording
from app.recordings.store import S3Store, set_store
from tests.recordings.conftest import wav_bytes
from tests.telephony.conftest import event, new_id, post_signed

WAV = wav_bytes(0.3)


def _client(s3_server, secret=None):
    return boto3.client(
        "s3",
        endpoint_url=s3_server["url"],
        region_name="ap-southeast-3",
        aws_access_key_id=s3_server["key_id"],
        aws_secret_access_key=secret or s3_server["secret"],
    )


async def test_put_size_ranged_stream_delete(s3_server):
    store = S3Store(s3_server["bucket"], client=_client(s3_server))
    await store.put("t/1/a.wav", WAV, "audio/wav")
    assert await store.size("t/1/a.wav") == len(WAV)
    assert b"".join([c async for c in store.stream("t/1/a.wav")]) == WAV
    assert b"".join([c async for c in store.stream("t/1/a.wav", 10, 19)]) == WAV[10:20]
    head = _client(s3_server).head_object(Bucket=s3_server["bucket"], Key="t/1/a.wav")
    assert head["ContentType"] == "audio/wav"
    await store.delete("t/1/a.wav")
    with pytest.raises(botocore.exceptions.ClientError):
        await store.size("t/1/a.wav")
    with pytest.raises(ValueError):
        await store.put("../escape.wav", WAV, "audio/wav")


async def test_server_refuses_a_wrong_signature(s3_server):
    bad = S3Store(s3_server["bucket"], client=_client(s3_server, secret="not-the-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        await bad.put("t/1/b.wav", WAV, "audio/wav")
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


async def test_upload_and_play_through_s3(client, db, tenant_factory, user_factory, s3_server):
    from app.calls.service import Ctx
    from app.core.principal import Principal
    from app.telephony import service
    from tests.conftest import login

    tenant = await tenant_factory(prefix="s3r")
    async with db.tenant(tenant.slug) as s:
        secret = await service.rotate_secret(
            Ctx(
                session=s,
                tenant=tenant,
                actor=Principal(kind="tenant", user_id=None, role="admin", name="x"),
            )
        )
    set_store(S3Store(s3_server["bucket"], client=_client(s3_server)))
    try:
        ext = new_id("c")
        await post_signed(client, tenant.slug, secret, event("ringing", ext))
        up = await post_signed(
            client,
            tenant.slug,
            secret,
            WAV,
            path=f"calls/{ext}/recording",
            headers={"content-type": "audio/wav"},
        )
        assert up.status_code == 201, up.text
        async with db.tenant(tenant.slug) as s:
            rec = (
                await s.execute(select(Recording).where(Recording.id == up.json()["recording_id"]))
            ).scalar_one()
        obj = _client(s3_server).get_object(Bucket=s3_server["bucket"], Key=rec.object_key)
        assert obj["Body"].read() == WAV
        supervisor = await user_factory(tenant, "supervisor")
        assert (await login(client, tenant.slug, supervisor.email)).status_code == 303
        played = await client.get(
            f"/t/{tenant.slug}/recordings/{rec.id}/audio", headers={"range": "bytes=0-43"}
        )
        assert played.status_code == 206 and played.content == WAV[:44]
    finally:
        set_store(None)
