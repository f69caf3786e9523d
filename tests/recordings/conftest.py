"""Recording fixtures: a tenant with a webhook secret, a local store in a temp dir, real WAV bytes,
and a real S3-compatible server (moto in server mode, SigV4 checked against IAM keys)."""

from __future__ import annotations

import io
import math
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import wave

import pytest

from app.recordings.store import LocalStore, set_store


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A real PCM WAV (a 440 Hz tone), as a telephony recorder would produce."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(rate * seconds))
        )
        w.writeframes(frames)
    return buf.getvalue()


@pytest.fixture
def local_store(tmp_path):
    store = LocalStore(tmp_path / "recordings")
    set_store(store)
    yield store
    set_store(None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server in its own process. The first 4 actions (create IAM user, access key, policy,
    bucket) run unauthenticated; every later request must carry a valid SigV4 signature."""
    import boto3

    port = _free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        boot = dict(
            endpoint_url=url,
            region_name="ap-southeast-3",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam = boto3.client("iam", **boot)
        iam.create_user(UserName="siaga112-task")
        key = iam.create_access_key(UserName="siaga112-task")["AccessKey"]
        iam.put_user_policy(
            UserName="siaga112-task",
            PolicyName="recordings",
            PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
        )
        boto3.client("s3", **boot).create_bucket(
            Bucket="siaga112-recordings", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-3"}
        )
        yield {
            "url": url,
            "key_id": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "bucket": "siaga112-recordings",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)
