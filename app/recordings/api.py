"""The integrator posts a call's recording: the audio itself, or a URL Siaga112 fetches safely.

POST /api/v1/t/<slug>/telephony/calls/<external call id>/recording
  Content-Type audio/* or application/octet-stream: the bytes (≤ 50 MB)
  Content-Type application/json: {"url": "https://media.integrator.example/rec/123.wav"}
Signed like every integrator request (X-Siaga112-Timestamp / X-Siaga112-Signature over the raw body).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from app.calls.http import service_errors
from app.recordings import fetch, service
from app.recordings.store import get_store
from app.telephony.http import integrator_ctx, parse, verify_signature
from app.web.deps import TenantDep, TenantSessionDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/t/{slug}/telephony", tags=["telephony"])
JSON_MAX = 4096


class RecordingUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=8, max_length=1000)]


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"Body terlalu besar (maks {limit} byte)")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise HTTPException(413, f"Body terlalu besar (maks {limit} byte)")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/calls/{external_id}/recording", status_code=201, summary="A call's recording (signed)")
async def post_recording(external_id: str, request: Request, tenant: TenantDep, session: TenantSessionDep):
    is_json = request.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    body = await _read_capped(request, JSON_MAX if is_json else service.MAX_BYTES)
    await verify_signature(request, session, tenant.slug, body)
    source_url = None
    if is_json:
        source_url = parse(RecordingUrlIn, body).url
        try:
            body = await fetch.fetch(source_url, service.MAX_BYTES)
        except fetch.FetchError as exc:
            log.warning("recording fetch refused for %s: %s", tenant.slug, exc)
            raise HTTPException(422, f"url: {exc}") from None
    with service_errors():
        rec = await service.ingest(
            integrator_ctx(request, session, tenant), get_store(), external_id, body, source_url
        )
    return {
        "recording_id": rec.id,
        "call_id": rec.call_id,
        "media_type": rec.media_type,
        "bytes": rec.size_bytes,
        "sha256": rec.sha256,
        "delete_after": rec.delete_after.isoformat(),
    }
