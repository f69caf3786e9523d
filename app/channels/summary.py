"""Non-urgent summary e-mail: per tenant and period, to each OPD's e-mail contacts (their OPD)
and to the regency's own contacts (``opd_id`` NULL: supervisors, every OPD).

Counts per OPD over ``[start, end)``: dispatches, acknowledged within the acknowledgement SLA
(the clock's deadline; 10 minutes without a clock), acknowledged late, not acknowledged, and
alert deliveries that failed. One outbox row per (tenant, period, contact, address)
(``dedupe_key = summary:<start>:<end>:<contact id>:<address>``), so a re-run sends nothing twice;
the SMTP adapter sends it like any other outbox message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelContact, ChannelMessage
from app.channels.outbox import _enqueue_after_commit, _insert
from app.dispatch.models import Dispatch, Opd
from app.sla.models import SlaClock

DEFAULT_ACK_S = 600


@dataclass
class OpdCounts:
    name: str
    dispatches: int = 0
    on_time: int = 0
    late: int = 0
    unacknowledged: int = 0
    failed: int = 0


async def counts(session: AsyncSession, start: datetime, end: datetime) -> dict[int, OpdCounts]:
    opds = {o.id: OpdCounts(o.name) for o in (await session.execute(select(Opd))).scalars()}
    rows = await session.execute(
        select(Dispatch.opd_id, Dispatch.sent_at, Dispatch.acknowledged_at, func.min(SlaClock.deadline))
        .outerjoin(SlaClock, (SlaClock.dispatch_id == Dispatch.id) & (SlaClock.kind == "acknowledge"))
        .where(Dispatch.sent_at >= start, Dispatch.sent_at < end)
        .group_by(Dispatch.id)
    )
    for opd_id, sent_at, acked_at, deadline in rows:
        c = opds.setdefault(opd_id, OpdCounts(f"OPD {opd_id}"))
        c.dispatches += 1
        due = deadline or sent_at + timedelta(seconds=DEFAULT_ACK_S)
        if acked_at is None:
            c.unacknowledged += 1
        elif acked_at <= due:
            c.on_time += 1
        else:
            c.late += 1
    failed = await session.execute(
        select(Dispatch.opd_id, func.count())
        .join(ChannelMessage, ChannelMessage.dispatch_id == Dispatch.id)
        .where(ChannelMessage.status == "failed", Dispatch.sent_at >= start, Dispatch.sent_at < end)
        .group_by(Dispatch.opd_id)
    )
    for opd_id, n in failed:
        opds.setdefault(opd_id, OpdCounts(f"OPD {opd_id}")).failed += n
    return opds


def render(period: str, parts: list[OpdCounts]) -> str:
    lines = [f"Ringkasan penugasan 112 periode {period}.", ""]
    for c in parts:
        lines += [
            f"{c.name}:",
            f"  Penugasan: {c.dispatches}",
            f"  Diterima tepat waktu (sesuai SLA): {c.on_time}",
            f"  Diterima terlambat: {c.late}",
            f"  Belum diterima: {c.unacknowledged}",
            f"  Pemberitahuan gagal terkirim: {c.failed}",
            "",
        ]
    lines.append("Pesan ini dikirim otomatis oleh Siaga112; tidak perlu dibalas.")
    return "\n".join(lines)


async def queue_summaries(session: AsyncSession, tenant: str, start: datetime, end: datetime) -> list[int]:
    """Write the period's summary e-mails into the outbox (caller commits)."""
    by_opd = await counts(session, start, end)
    period = f"{start:%Y-%m-%d %H:%M} s.d. {end:%Y-%m-%d %H:%M} UTC"
    contacts = (
        await session.execute(select(ChannelContact).where(ChannelContact.is_active.is_(True)))
    ).scalars()
    rows: list[dict[str, Any]] = []
    for contact in contacts:
        emails = [e["address"] for e in contact.channels or [] if e.get("channel") == "email"]
        if not emails:
            continue
        if contact.opd_id is None:
            parts = [c for c in by_opd.values() if c.dispatches or c.failed] or list(by_opd.values())
        else:
            parts = [by_opd.get(contact.opd_id) or OpdCounts(f"OPD {contact.opd_id}")]
        text = render(period, parts)
        for address in emails:
            rows.append(
                dict(
                    dedupe_key=f"summary:{start:%Y%m%dT%H%M}:{end:%Y%m%dT%H%M}:{contact.id}:{address}"[:200],
                    kind="text",
                    recipient=contact.name[:160],
                    channel="email",
                    address=address,
                    step=0,
                    status="pending",
                    attempts=0,
                    body={"text": text, "title": f"Ringkasan Siaga112 {start:%Y-%m-%d}"},
                )
            )
    ids = await _insert(session, rows) if rows else []
    _enqueue_after_commit(session, tenant, ids)
    return ids
