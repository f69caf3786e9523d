"""The durable outbox: rows written in the caller's transaction, sent by arq workers.

* ``queue_dispatch_alerts`` / ``queue_escalation`` insert one ``channel_messages`` row per
  (kind, subject, recipient, channel) with ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING`` and
  queue a send job after the commit (``after_commit_redis``): the job can only see committed rows.
* ``send_one`` claims a row with ONE guarded UPDATE (``pending`` → ``sending``, committed BEFORE
  the provider is called), sends, then records the outcome with another guarded UPDATE. Retries
  (timeouts, 5xx, 429) go back to ``pending`` with exponential backoff; a refusal (bad
  credential, bad address) or exhausted retries is ``failed``; an outcome that cannot be known
  (connection lost after the request was written, or a worker killed while ``sending``) is
  ``uncertain`` and is NEVER re-sent on that channel. ``failed`` and ``uncertain`` hand over to
  the contact's next channel (a new row, its own dedupe key): nobody gets the same alert twice
  on one channel, and a provider outage still reaches them on another.
* ``reconcile_tenant`` (cron) re-queues due ``pending`` rows (Redis flushed) and turns
  ``sending`` rows older than the lease into ``uncertain`` (worker crashed mid-send).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import jobs
from app.calls.models import Incident
from app.channels import ack, registry, service
from app.channels.base import Message, SendResult
from app.channels.models import ChannelContact, ChannelMessage, PushSubscription
from app.config import get_settings
from app.core import clock
from app.db import uow
from app.db.direct import Direct, insert_rows
from app.dispatch.models import Category, Dispatch, Opd
from app.events import after_commit_redis

log = logging.getLogger(__name__)

MAX_TRIES = 6
BACKOFF_BASE_S = 2.0  # 2, 4, 8, 16, 32 s
BACKOFF_MAX_S = 300.0
LEASE = timedelta(seconds=60)  # > the HTTP timeout: a row 'sending' longer than this was abandoned
SCHEDULE_HORIZON = timedelta(minutes=2)
SENT_STATES = ("sent", "delivered", "read")
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}


def backoff(attempt: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2 ** (attempt - 1)))


def job_id(tenant: str, message_id: int, attempt: int) -> str:
    return f"chan:{tenant}:{message_id}:{attempt}"


def _enqueue_after_commit(session: AsyncSession, tenant: str, ids: list[int], delay_s: float = 0) -> None:
    if not ids:
        return

    def write(pipe: Any) -> None:
        for mid in ids:
            jobs.enqueue_into(
                pipe, "send_channel_message", tenant, mid, _job_id=job_id(tenant, mid, 0), _defer_by=delay_s
            )

    after_commit_redis(session, write)


def recipient_key(row: ChannelMessage) -> str:
    if row.contact_id is not None:
        return f"c{row.contact_id}"
    if row.push_subscription_id is not None:
        return f"p{row.push_subscription_id}"
    return f"a:{row.address}"


# --- writing -------------------------------------------------------------------------------------


_INSERT_COLS = (
    "dedupe_key",
    "kind",
    "dispatch_id",
    "clock_id",
    "opd_id",
    "contact_id",
    "push_subscription_id",
    "recipient",
    "channel",
    "address",
    "step",
    "body",
    "status",
    "attempts",
)
_NEW_ROW: dict[str, Any] = {
    **dict.fromkeys(_INSERT_COLS),
    "step": 0,
    "body": {},
    "status": "pending",
    "attempts": 0,
}


def _insert_statement():
    """The rows as ONE recordset, a row whose dedupe_key exists skipped. Through ``Direct``:
    SQLAlchemy never caches its PostgreSQL INSERT, and every dispatch compiled this again."""
    table = ChannelMessage.__table__
    return (
        insert_rows(table, "rows", _INSERT_COLS)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id)
    )


_INSERT = Direct(_insert_statement)


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    unknown = set().union(*rows) - set(_INSERT_COLS)
    if unknown:
        raise ValueError(f"outbox rows with unknown columns: {sorted(unknown)}")
    written = await _INSERT.all(session, {"rows": [{**_NEW_ROW, **r} for r in rows]})
    return [r.id for r in written]


def _first_channel(contact: ChannelContact, enabled: set[str], start: int = 0) -> tuple[int, dict] | None:
    for i, entry in enumerate(contact.channels or []):
        if i >= start and entry.get("channel") in enabled:
            return i, entry
    return None


async def _contacts(
    session: AsyncSession, tenant: str, opd_id: int | None, role: str, at: datetime
) -> list[ChannelContact]:
    stmt = select(ChannelContact).where(ChannelContact.role == role, ChannelContact.is_active.is_(True))
    stmt = stmt.where(
        ChannelContact.opd_id == opd_id if opd_id is not None else ChannelContact.opd_id.is_(None)
    )
    found = list((await session.execute(stmt.order_by(ChannelContact.id))).scalars())
    if not found:
        return []
    tz = await service.tenant_timezone(session, tenant)
    return [c for c in found if service.on_duty(c, at, tz)]


async def queue_dispatch_alerts(session: AsyncSession, tenant: str, dispatch: Dispatch) -> list[int]:
    """Every on-duty contact of the dispatch's OPD (first enabled channel each) and every push
    subscription of that OPD's staff; in the dispatch's transaction."""
    enabled = await service.enabled_channels(session)
    if not enabled:
        return []
    at = clock.now()
    rows = []
    for c in await _contacts(session, tenant, dispatch.opd_id, "duty", at):
        first = _first_channel(c, enabled)
        if first is None:
            continue
        step, entry = first
        rows.append(
            _row("dispatch", f"d{dispatch.id}", dispatch.id, None, dispatch.opd_id, c, entry, step, c.name)
        )
    if "webpush" in enabled:
        subs = (
            await session.execute(
                select(PushSubscription).where(
                    PushSubscription.opd_id == dispatch.opd_id, PushSubscription.is_active.is_(True)
                )
            )
        ).scalars()
        for s in subs:
            rows.append(
                dict(
                    dedupe_key=f"dispatch:d{dispatch.id}:p{s.id}:webpush",
                    kind="dispatch",
                    dispatch_id=dispatch.id,
                    opd_id=dispatch.opd_id,
                    push_subscription_id=s.id,
                    recipient=f"browser pengguna #{s.user_id}",
                    channel="webpush",
                    address=service_json(s.subscription),
                    step=0,
                    status="pending",
                    attempts=0,
                    body={},
                )
            )
    ids = await _insert(session, rows)
    _enqueue_after_commit(session, tenant, ids)
    return ids


def service_json(sub: dict) -> str:
    import json

    return json.dumps(sub, sort_keys=True)


def _row(
    kind: str,
    subject: str,
    dispatch_id: int | None,
    clock_id: int | None,
    opd_id: int | None,
    contact: ChannelContact,
    entry: dict,
    step: int,
    label: str,
) -> dict[str, Any]:
    return dict(
        dedupe_key=f"{kind}:{subject}:c{contact.id}:{entry['channel']}",
        kind=kind,
        dispatch_id=dispatch_id,
        clock_id=clock_id,
        opd_id=opd_id,
        contact_id=contact.id,
        recipient=label[:160],
        channel=entry["channel"],
        address=entry["address"],
        step=step,
        status="pending",
        attempts=0,
        body={},
    )


async def queue_escalation(session: AsyncSession, tenant: str, clock_row: Any, stage: str) -> list[int]:
    """SLA warning/breach/level-2: the escalation contacts of the clock's OPD (or, for clocks
    without an OPD, the regency's own escalation contacts); in the SLA firing's transaction."""
    enabled = await service.enabled_channels(session)
    if not enabled:
        return []
    rows = []
    kind = f"sla.{stage}"
    for c in await _contacts(session, tenant, clock_row.opd_id, "escalation", clock.now()):
        first = _first_channel(c, enabled)
        if first is not None:
            rows.append(
                _row(
                    kind,
                    f"k{clock_row.id}",
                    clock_row.dispatch_id,
                    clock_row.id,
                    clock_row.opd_id,
                    c,
                    first[1],
                    first[0],
                    c.name,
                )
            )
    ids = await _insert(session, rows)
    _enqueue_after_commit(session, tenant, ids)
    return ids


async def queue_text(
    session: AsyncSession,
    tenant: str,
    channel: str,
    address: str,
    text: str,
    dedupe_key: str,
    label: str = "",
) -> int | None:
    """A free text through the outbox (retries, delivery log), e.g. for other domains."""
    ids = await _insert(
        session,
        [
            dict(
                dedupe_key=dedupe_key[:200],
                kind="text",
                recipient=(label or address)[:160],
                channel=channel,
                address=address,
                step=0,
                status="pending",
                attempts=0,
                body={"text": text},
            )
        ],
    )
    _enqueue_after_commit(session, tenant, ids)
    return ids[0] if ids else None


# --- rendering ----------------------------------------------------------------------------------

PRIORITY_LABELS = {1: "P1 (darurat)", 2: "P2 (segera)", 3: "P3", 4: "P4"}
STAGE_TITLES = {
    "sla.warning": "Peringatan SLA",
    "sla.breached": "SLA terlampaui",
    "sla.escalated": "Eskalasi tingkat 2",
}


def base_url() -> str:
    s = get_settings()
    return (s.public_base_url or f"http://{s.host}:{s.port}").rstrip("/")


def map_link(lat: float | None, lon: float | None, address: str | None) -> str:
    if lat is not None and lon is not None:
        return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"
    if address:
        return f"https://www.openstreetmap.org/search?query={quote(address)}"
    return "-"


async def render(session: AsyncSession, tenant: str, row: ChannelMessage, template: str | None) -> Message:
    if row.kind == "text" or row.dispatch_id is None:
        return Message(
            text=str((row.body or {}).get("text") or ""),
            title=str((row.body or {}).get("title") or "Siaga112"),
            reference=str(row.id),
            plain=True,
        )
    found = (
        await session.execute(
            select(Dispatch, Incident, Category.name, Opd.name)
            .join(Incident, Incident.id == Dispatch.incident_id)
            .join(Category, Category.id == Incident.category_id)
            .join(Opd, Opd.id == Dispatch.opd_id)
            .where(Dispatch.id == row.dispatch_id)
        )
    ).first()
    if found is None:
        return Message(text="Penugasan tidak ditemukan", reference=str(row.id))
    d, inc, category, opd_name = found
    place = ", ".join(p for p in (inc.address, inc.kelurahan, inc.kecamatan) if p) or "(alamat belum diisi)"
    where = map_link(inc.lat, inc.lon, inc.address)
    prio = PRIORITY_LABELS.get(inc.priority, f"P{inc.priority}")
    url = f"{base_url()}/t/{tenant}/ack/{ack.make_token(tenant, row.id, d.id, recipient_key(row))}"
    if row.kind == "dispatch":
        title = f"[{prio}] {category} — penugasan #{d.id}"
        text = (
            f"Penugasan 112 untuk {opd_name}: {category}, prioritas {prio}. Lokasi: {place}. Peta: {where}."
        )
    else:
        title = f"{STAGE_TITLES.get(row.kind, 'SLA')}: penugasan #{d.id} ({opd_name})"
        text = (
            f"{STAGE_TITLES.get(row.kind, 'SLA')} — {category}, {prio}, status {d.status}, "
            f"dikirim {d.sent_at:%H:%M} UTC. Lokasi: {place}. Peta: {where}."
        )
    acknowledgeable = d.status == "sent"
    return Message(
        text=text,
        title=title,
        template=template if row.kind == "dispatch" else None,
        params=(category, prio, place, where),
        action_url=url,
        action_label="Terima" if acknowledgeable else "Buka",
        callback=ack.make_callback(tenant, row.id, d.id) if acknowledgeable else None,
        reference=str(row.id),
        receipt_url=f"{base_url()}/api/v1/t/{tenant}/channels/webpush/receipt/{ack.make_receipt(tenant, row.id)}"
        if row.channel == "webpush"
        else None,
    )


# --- sending ------------------------------------------------------------------------------------


async def _claim(session: AsyncSession, message_id: int) -> ChannelMessage | None:
    stmt = (
        update(ChannelMessage)
        .where(
            ChannelMessage.id == message_id,
            ChannelMessage.status == "pending",
            ChannelMessage.next_attempt_at <= func.now() + timedelta(seconds=1),
        )
        .values(status="sending", claimed_at=func.now(), attempts=ChannelMessage.attempts + 1)
        .returning(ChannelMessage)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def send_one(session: AsyncSession, tenant: str, message_id: int) -> str:
    """Claim, send, record; returns the row's new status (or why nothing happened)."""
    row = await _claim(session, message_id)
    if row is None:
        await session.rollback()
        return "skipped"
    config, enabled = await service.load_config(session, tenant, row.channel)
    message = await render(session, tenant, row, config.get("template"))
    if row.kind == "dispatch" and message.callback is None and row.dispatch_id is not None:
        # render() offers no acknowledgement button once the dispatch was acknowledged/rejected:
        # no more alerts for it.
        row.status, row.last_error = "cancelled", "penugasan sudah ditanggapi"
        await uow.commit(session)
        return "cancelled"
    attempt, claimed_at = row.attempts, row.claimed_at
    await uow.commit(session)  # 'sending' is durable before the provider sees anything
    if not enabled:
        result = SendResult("rejected", error="kanal dinonaktifkan")
    else:
        try:
            result = await registry.adapter(row.channel, config).send(row.address, message)
        except Exception as exc:  # an adapter bug must not leave the row 'sending' until the lease
            log.exception("channel adapter %s failed", row.channel)
            result = SendResult("unknown", error=f"galat internal: {type(exc).__name__}")
    return await record_result(session, tenant, message_id, attempt, claimed_at, result)


async def record_result(
    session: AsyncSession,
    tenant: str,
    message_id: int,
    attempt: int,
    claimed_at: datetime | None,
    result: SendResult,
) -> str:
    now = clock.now()
    values: dict[str, Any] = {"last_error": (result.error or None) and result.error[:300]}
    retry_in: float | None = None
    if result.ok:
        values.update(status="sent", sent_at=now, provider_id=(result.provider_id or None))
    elif result.outcome == "retry" and attempt < MAX_TRIES:
        retry_in = max(backoff(attempt), float(result.retry_after_s or 0))
        # The database's clock, as the claim compares with it (the SLA clock may be a test's fake).
        values.update(status="pending", next_attempt_at=func.now() + timedelta(seconds=retry_in))
    elif result.outcome == "unknown":
        values.update(status="uncertain", failed_at=now)
    else:
        values.update(status="failed", failed_at=now)
    row = (
        await session.execute(
            update(ChannelMessage)
            .where(
                ChannelMessage.id == message_id,
                ChannelMessage.status == "sending",
                ChannelMessage.attempts == attempt,
            )
            .values(**values)
            .returning(ChannelMessage)
            .execution_options(populate_existing=True, synchronize_session=False)
        )
    ).scalar_one_or_none()
    if row is None:  # the lease expired and reconciliation decided already
        await session.rollback()
        return "lost-lease"
    if row.status in ("failed", "uncertain"):
        await fall_back(session, tenant, row)
    elif retry_in is not None:
        after_commit_redis(
            session,
            lambda pipe: jobs.enqueue_into(
                pipe,
                "send_channel_message",
                tenant,
                message_id,
                _job_id=job_id(tenant, message_id, attempt),
                _defer_by=retry_in,
            ),
        )

    await uow.commit(session)
    return row.status


async def fall_back(session: AsyncSession, tenant: str, row: ChannelMessage) -> int | None:
    """The contact's next enabled channel gets its own outbox row (same kind and subject)."""
    if row.contact_id is None:
        return None
    contact = await session.get(ChannelContact, row.contact_id)
    if contact is None or not contact.is_active:
        return None
    nxt = _first_channel(contact, await service.enabled_channels(session), start=row.step + 1)
    if nxt is None:
        return None
    step, entry = nxt
    subject = row.dedupe_key.split(":")[1] if row.dedupe_key.count(":") >= 3 else f"m{row.id}"
    ids = await _insert(
        session,
        [
            {
                **_row(
                    row.kind,
                    subject,
                    row.dispatch_id,
                    row.clock_id,
                    row.opd_id,
                    contact,
                    entry,
                    step,
                    row.recipient,
                ),
                "body": row.body or {},
            }
        ],
    )
    _enqueue_after_commit(session, tenant, ids)
    return ids[0] if ids else None


# --- reconciliation -----------------------------------------------------------------------------


async def reconcile_tenant(db: Any, tenant: str) -> dict[str, int]:
    stats = {"queued": 0, "abandoned": 0}
    async with db.tenant(tenant) as session:
        stale = (
            await session.execute(
                select(ChannelMessage.id, ChannelMessage.attempts, ChannelMessage.claimed_at).where(
                    ChannelMessage.status == "sending", ChannelMessage.claimed_at < func.now() - LEASE
                )
            )
        ).all()
        due = (
            await session.execute(
                select(ChannelMessage.id, ChannelMessage.attempts, ChannelMessage.next_attempt_at).where(
                    ChannelMessage.status == "pending",
                    ChannelMessage.next_attempt_at <= func.now() + SCHEDULE_HORIZON,
                )
            )
        ).all()
    for mid, attempt, claimed_at in stale:
        async with db.tenant(tenant) as session:
            result = SendResult("unknown", error="pengirim berhenti saat mengirim (hasil tidak diketahui)")
            if await record_result(session, tenant, mid, attempt, claimed_at, result) != "lost-lease":
                stats["abandoned"] += 1
    now = clock.now()
    for mid, attempt, next_at in due:
        delay = max(0.0, (next_at - now).total_seconds())
        # Job id per attempt: a job still queued in Redis for this attempt makes this a no-op.
        name = job_id(tenant, mid, attempt)
        if await jobs.enqueue("send_channel_message", tenant, mid, _job_id=name, _defer_by=delay):
            stats["queued"] += 1
    return stats
