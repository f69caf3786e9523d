"""Object storage behind one small interface: a local folder (default) or an S3-compatible bucket.

``RECORDINGS_STORE=local`` keeps objects under ``DATA_DIR/recordings``; ``RECORDINGS_STORE=s3``
uses ``RECORDINGS_BUCKET`` (optionally ``RECORDINGS_S3_ENDPOINT_URL`` for MinIO/Ceph/moto) with
boto3's usual credentials chain (task role in ECS). boto3 is synchronous: calls run in a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from app.config import get_settings

CHUNK = 64 * 1024


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def size(self, key: str) -> int: ...

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``start..end`` inclusive (end None: to the end)."""
        ...

    async def delete(self, key: str) -> None: ...


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
        raise ValueError(f"unsafe object key {key!r}")
    return key


class LocalStore:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)

        await asyncio.to_thread(write)

    async def size(self, key: str) -> int:
        return (await asyncio.to_thread(self._path(key).stat)).st_size

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        fh = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            fh.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = await asyncio.to_thread(fh.read, CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            fh.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


class S3Store:
    def __init__(self, bucket: str, client=None, **client_kwargs):
        import boto3

        self.bucket = bucket
        self.client = client or boto3.client("s3", **client_kwargs)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=_safe_key(key),
            Body=data,
            ContentType=content_type,
        )

    async def size(self, key: str) -> int:
        head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=_safe_key(key))
        return int(head["ContentLength"])

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        rng = f"bytes={start}-{'' if end is None else end}"
        obj = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=_safe_key(key), Range=rng
        )
        body = obj["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=_safe_key(key))


_store: ObjectStore | None = None


def get_store() -> ObjectStore:
    """The configured store (built once per process; tests replace it with ``set_store``)."""
    global _store
    if _store is None:
        kind = os.environ.get("RECORDINGS_STORE", "local")
        if kind == "s3":
            bucket = os.environ.get("RECORDINGS_BUCKET", "")
            if not bucket:
                raise RuntimeError("RECORDINGS_STORE=s3 needs RECORDINGS_BUCKET")
            endpoint = os.environ.get("RECORDINGS_S3_ENDPOINT_URL") or None
            _store = S3Store(bucket, endpoint_url=endpoint)
        else:
            _store = LocalStore(Path(get_settings().data_dir) / "recordings")
    return _store


def set_store(store: ObjectStore | None) -> None:
    global _store
    _store = store
