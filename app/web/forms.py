"""Reading a posted form in views that parse it themselves (wizard steps, admin pages)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData, UploadFile


async def form_fields(request: Request) -> tuple[dict[str, str], FormData]:
    """The text fields as a dict, and the whole form (for lists and uploads)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}, form


async def read_upload(form: FormData, field: str, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the uploaded file (None when none was chosen). Closes the form's
    spooled uploads: nothing else reads them, and an unclosed one lingers until collected."""
    upload = form.get(field)
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            return await upload.read(limit)
        return None
    finally:
        await form.close()
