"""Step 1 of the graduated scale: a warning SMS to a caller, sent through the regency's own SMS
channel by the channels outbox (retries, delivery log). An operator or supervisor decides to send
it, on a ringing or a logged call; it never changes, holds or blocks the call itself.

One warning per call (outbox key ``warning:c<call id>``): pressing again, or two operators at
once, sends nothing more. Every warning is audited (``reputation.warning_sms_queued``) and on the
call's history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.audit.service import record
from app.calls.models import Call
from app.calls.service import Ctx, log_event
from app.channels import outbox
from app.channels import service as channels
from app.core.errors import ConflictError, InvalidInput, NotFoundError
from app.db import uow
from app.reputation.service import countable


def warning_text(regency: str) -> str:
    return (
        f"Peringatan dari Call Center 112 {regency}: nomor ini tercatat beberapa kali melakukan "
        "panggilan iseng atau diam ke 112. Panggilan iseng menunda pertolongan bagi orang yang "
        "sedang dalam bahaya. Gunakan 112 hanya untuk keadaan darurat."
    )


@dataclass(frozen=True)
class Queued:
    message_id: int
    to: str


async def queue_warning(ctx: Ctx, call_id: int) -> Queued:
    """Queue the warning SMS for the caller of ``call_id`` and commit; raises a ServiceError
    (422 no usable number / no SMS channel, 409 already warned for this call, 404 unknown call)."""
    session = ctx.session
    call = (await session.execute(select(Call).where(Call.id == call_id))).scalar_one_or_none()
    if call is None:
        raise NotFoundError(f"Panggilan #{call_id} tidak ditemukan")
    if not countable(call.caller_number):
        raise InvalidInput(
            "caller_number", "Nomor penelepon tidak diketahui: SMS peringatan tidak dapat dikirim"
        )
    _, enabled = await channels.load_config(session, ctx.slug, "sms")
    if not enabled:
        raise InvalidInput("channel", "Kanal SMS kabupaten/kota belum diaktifkan (admin → Kanal)")
    regency = ctx.tenant.name
    to = str(call.caller_number)
    message_id = await outbox.queue_text(
        session,
        ctx.slug,
        "sms",
        to,
        warning_text(regency),
        dedupe_key=f"warning:c{call.id}",
        label=f"Peringatan iseng · {to}",
    )
    if message_id is None:
        await session.rollback()
        raise ConflictError("SMS peringatan untuk panggilan ini sudah dikirim")
    log_event(ctx, "call", call.id, "warning_sms_queued", {"message_id": message_id})
    await record(
        session,
        "reputation.warning_sms_queued",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="call",
        entity_id=call.id,
        after={"message_id": message_id, "channel": "sms"},
    )
    await uow.commit(session)
    return Queued(message_id, to)
