"""Which position a call shows, and the location-share link (create, open, receive a position).

Every fix of a call is kept (AML in ``aml_locations``, browser positions in ``link_fixes``) with
its plausibility flags; ``refresh_call_location`` re-derives the call's shown position from all
of them (``sanity.best``), so arrival order and bogus fixes cannot decide it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.audit.service import record
from app.calls.models import Call
from app.calls.service import Ctx, finish, log_event
from app.channels import service as channels
from app.core.clock import now
from app.core.errors import InvalidInput, NotFoundError, ServiceError
from app.location import sanity
from app.location.models import FIX_SOURCES, LINK_CHANNELS, LinkFix, LocationLink
from app.telephony.models import AmlLocation

LINK_TTL = timedelta(minutes=30)
LOCATION_FIELDS = ("location_lat", "location_lon", "location_radius_m", "location_source", "location_at")
MAX_ACCURACY_M = 100_000.0
# A WhatsApp location message carries no accuracy: it may be the phone's GPS fix or a pin the
# person dragged. Counted as this uncertain, so an AML or browser fix (metres) wins when there is one.
WHATSAPP_ASSUMED_ACCURACY_M = 100.0


async def _fixes(session: AsyncSession, call_ids: list[int]) -> dict[int, list[tuple[int, sanity.Fix]]]:
    out: dict[int, list[tuple[int, sanity.Fix]]] = {cid: [] for cid in call_ids}
    aml_rows = await session.execute(
        select(AmlLocation).where(AmlLocation.call_id.in_(call_ids), AmlLocation.lat.is_not(None))
    )
    for a in aml_rows.scalars():
        if a.call_id is None or a.lat is None or a.lon is None:
            continue  # excluded by the query; narrows the types
        out[a.call_id].append(
            (a.id, sanity.Fix("aml", a.lat, a.lon, a.radius_m or 0.0, a.positioned_at, tuple(a.flags or ())))
        )
    link_rows = await session.execute(select(LinkFix).where(LinkFix.call_id.in_(call_ids)))
    for f in link_rows.scalars():
        out[f.call_id].append(
            (f.id, sanity.Fix(f.source, f.lat, f.lon, f.accuracy_m, f.positioned_at, tuple(f.flags or ())))
        )
    return out


async def refresh_call_location(session: AsyncSession, call: Call) -> dict:
    """Set the call's position from its best fix; returns the changed fields ``{f: (old, new)}``."""
    fixes = [f for _, f in (await _fixes(session, [call.id]))[call.id]]
    chosen = sanity.best(fixes)
    before = {f: getattr(call, f) for f in LOCATION_FIELDS}
    if chosen is not None:
        call.location_lat, call.location_lon = chosen.lat, chosen.lon
        call.location_radius_m, call.location_source = chosen.radius_m, chosen.source
        call.location_at = chosen.positioned_at
    elif call.location_source in ("aml", *FIX_SOURCES):
        call.location_lat = call.location_lon = call.location_radius_m = None
        call.location_source = call.location_at = None
    return {f: (v, getattr(call, f)) for f, v in before.items() if v != getattr(call, f)}


async def map_fixes(session: AsyncSession, call_ids: list[int]) -> list[dict]:
    """Every fix of these calls for the console map: accuracy circle, time, source, flags, winner."""
    if not call_ids:
        return []
    calls = {
        c.id: c for c in (await session.execute(select(Call).where(Call.id.in_(call_ids)))).scalars().all()
    }
    out = []
    for cid, fixes in (await _fixes(session, call_ids)).items():
        chosen = sanity.best([f for _, f in fixes])
        for fid, f in sorted(fixes, key=lambda x: x[1].positioned_at):
            out.append(
                {
                    "call_id": cid,
                    "fix_id": f"{f.source}-{fid}",
                    "caller": calls[cid].caller_number if cid in calls else "",
                    "source": f.source,
                    "lat": f.lat,
                    "lon": f.lon,
                    "radius_m": f.radius_m,
                    "at": f.positioned_at.isoformat(),
                    "flags": list(f.flags),
                    "flag_text": sanity.describe(list(f.flags)),
                    "best": f is chosen,
                }
            )
    return out


# --- location-share link --------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_text(url: str) -> str:
    return (
        "112: Petugas meminta lokasi Anda. Buka tautan ini dan izinkan akses lokasi "
        f"(sekali pakai, berlaku 30 menit): {url}"
    )


@dataclass
class SentLink:
    link: LocationLink
    url: str


async def send_link(ctx: Ctx, call_id: int, channel: str, base_url: str) -> SentLink:
    """Create a single-use link for the caller of ``call_id`` and send it over SMS or WhatsApp.

    The link row is committed BEFORE sending (a link the caller may receive must exist), then the
    send state is recorded; a failed send is reported to the operator, who may try the other channel.
    """
    if channel not in LINK_CHANNELS:
        raise InvalidInput("channel", "Saluran harus sms atau whatsapp")
    session = ctx.session
    call = (await session.execute(select(Call).where(Call.id == call_id))).scalar_one_or_none()
    if call is None:
        raise NotFoundError(f"Panggilan #{call_id} tidak ditemukan")
    if not call.caller_number or not call.caller_number.startswith("+"):
        raise InvalidInput("caller_number", "Nomor penelepon tidak diketahui: tautan tidak dapat dikirim")
    token = secrets.token_urlsafe(24)
    link = LocationLink(
        call_id=call.id,
        token_hash=_hash(token),
        channel=channel,
        to_number=call.caller_number,
        expires_at=now() + LINK_TTL,
        created_by=ctx.actor_id,
    )
    session.add(link)
    await session.flush()
    log_event(ctx, "call", call.id, "location_link_sent", {"link_id": link.id, "channel": channel})
    await record(
        session,
        "location.link_created",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="call",
        entity_id=call.id,
        after={"link_id": link.id, "channel": channel},
    )
    await finish(ctx)
    url = f"{base_url.rstrip('/')}/t/{ctx.slug}/lokasi/{token}"
    result = await channels.send_text(session, ctx.slug, channel, link.to_number, link_text(url))
    link.send_state, link.send_error = (
        ("sent", None) if result.ok else ("failed", (result.error or result.outcome)[:300])
    )
    await finish(ctx, "location")
    return SentLink(link, url)


LINK_USED = "Tautan lokasi ini sudah digunakan. Jika Anda masih butuh bantuan, hubungi 112."
LINK_EXPIRED = "Tautan lokasi ini sudah kedaluwarsa. Hubungi 112 untuk meminta tautan baru."
LINK_UNKNOWN = "Tautan lokasi tidak dikenal."


async def link_state(session: AsyncSession, token: str) -> tuple[LocationLink | None, str | None]:
    """The link and, if it cannot be used, the reason (Indonesian)."""
    link = (
        await session.execute(select(LocationLink).where(LocationLink.token_hash == _hash(token)))
    ).scalar_one_or_none()
    if link is None:
        return None, LINK_UNKNOWN
    if link.used_at is not None:
        return link, LINK_USED
    if link.expires_at <= now():
        return link, LINK_EXPIRED
    return link, None


class LinkGone(ServiceError):
    """Used or expired."""

    status = 410


async def submit_fix(
    ctx: Ctx, token: str, lat: float, lon: float, accuracy_m: float, positioned_at: datetime
) -> LinkFix:
    session = ctx.session
    if not -90 <= lat <= 90:
        raise InvalidInput("lat", "Lintang harus antara -90 dan 90")
    if not -180 <= lon <= 180:
        raise InvalidInput("lon", "Bujur harus antara -180 dan 180")
    if not 0 < accuracy_m <= MAX_ACCURACY_M:
        raise InvalidInput(
            "accuracy", f"Akurasi harus lebih dari 0 dan paling banyak {int(MAX_ACCURACY_M)} m"
        )
    link = (
        await session.execute(
            select(LocationLink).where(LocationLink.token_hash == _hash(token)).with_for_update()
        )
    ).scalar_one_or_none()
    if link is None:
        raise NotFoundError(LINK_UNKNOWN)
    if link.used_at is not None:
        raise LinkGone(LINK_USED)
    if link.expires_at <= now():
        raise LinkGone(LINK_EXPIRED)
    call = (await session.execute(select(Call).where(Call.id == link.call_id).with_for_update())).scalar_one()
    received = now()
    link.used_at = received
    fix = await _store_fix(
        ctx,
        call,
        LinkFix(link_id=link.id, source="link", lat=lat, lon=lon, accuracy_m=accuracy_m),
        positioned_at,
        received,
    )
    await finish(ctx, "location", "ringing")
    return fix


async def add_whatsapp_fix(
    ctx: Ctx, call: Call, lat: float, lon: float, positioned_at: datetime, provider_id: str
) -> LinkFix | None:
    """A location message in a WhatsApp conversation becomes a fix of its call (checked like any
    other: far outside the regency, future-dated or from before the call is flagged, never
    chosen). Not committed (the webhook's transaction); None for a repeated message or bad
    coordinates; the caller refreshes the consoles ("location")."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    seen = (await ctx.session.execute(select(LinkFix.id).where(LinkFix.provider_id == provider_id))).first()
    if seen:
        return None
    fix = LinkFix(
        link_id=None,
        source="whatsapp",
        provider_id=provider_id,
        lat=lat,
        lon=lon,
        accuracy_m=WHATSAPP_ASSUMED_ACCURACY_M,
    )
    return await _store_fix(ctx, call, fix, positioned_at, now())


async def _store_fix(
    ctx: Ctx, call: Call, fix: LinkFix, positioned_at: datetime, received: datetime
) -> LinkFix:
    """Check a caller-sent position, keep it, and re-derive the call's shown position from all
    its fixes (the event log and ``call.updated`` say what changed). Not committed."""
    fix.call_id, fix.positioned_at, fix.received_at = call.id, positioned_at, received
    fix.flags = sanity.check(
        positioned_at=positioned_at,
        received_at=received,
        call_started_at=call.received_at,
        lat=fix.lat,
        lon=fix.lon,
        region_code=ctx.region_code,
    )
    ctx.session.add(fix)
    await ctx.session.flush()
    changes = await refresh_call_location(ctx.session, call)
    log_event(
        ctx,
        "call",
        call.id,
        "location",
        {
            "source": fix.source,
            "lat": fix.lat,
            "lon": fix.lon,
            "radius_m": fix.accuracy_m,
            "flags": fix.flags,
        },
    )
    if changes:
        await events.emit(ctx.session, "call.updated", ctx.tenant, call=call, changes=changes)
    return fix
