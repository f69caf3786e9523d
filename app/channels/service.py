"""Channel configuration, contacts and the generic send API (``send_message``).

Other domains (text-to-112) call ``send_message(session, tenant, channel, address, Message)`` to
send a text or template on a tenant's channel, and ``load_config`` / ``adapter_for`` to parse
that channel's webhooks. Secrets are write-only: ``save_config`` encrypts them, ``config_view``
says only which are set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import registry, secrets
from app.channels.adapters.sms import parse_credentials
from app.channels.adapters.webpush import parse_subscription
from app.channels.base import CHANNEL_LABELS, CHANNELS, Adapter, Message, SendResult
from app.channels.models import ChannelConfig, ChannelContact, ChannelMessage, PushSubscription
from app.channels.outbound import UnsafeUrl, check_url
from app.config import get_settings
from app.core import clock
from app.core.cache import TtlCache
from app.core.tenant import TIMEZONES
from app.tenancy.models import Tenant


class ChannelInputError(ValueError):
    """Bad admin input; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- configuration ------------------------------------------------------------------------------

# (tenant, channel) → (config, enabled): a worker sending hundreds of alerts a second must not
# decrypt the same credentials each time. Saving a channel forgets its entry (forget_config);
# other processes see the change within CACHE_TTL_S.
CACHE_TTL_S = 30.0
_cache: TtlCache[tuple[dict[str, Any], bool]] = TtlCache(lambda: CACHE_TTL_S, maxsize=4096)


async def get_config_row(session: AsyncSession, channel: str) -> ChannelConfig | None:
    return (
        await session.execute(select(ChannelConfig).where(ChannelConfig.channel == channel))
    ).scalar_one_or_none()


async def load_config(session: AsyncSession, tenant: str, channel: str) -> tuple[dict[str, Any], bool]:
    """(settings merged with decrypted secrets, enabled) for one channel of a tenant."""
    key = (tenant, channel)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    row = await get_config_row(session, channel)
    if row is None:
        return {}, False
    value = ({**(row.settings or {}), **secrets.decrypt(row.secrets_enc)}, row.enabled)
    _cache.set(key, value)
    return value


def forget_config(tenant: str, channel: str) -> None:
    _cache.forget((tenant, channel))


async def enabled_channels(session: AsyncSession) -> set[str]:
    return set(
        (
            await session.execute(select(ChannelConfig.channel).where(ChannelConfig.enabled.is_(True)))
        ).scalars()
    )


async def adapter_for(session: AsyncSession, tenant: str, channel: str) -> Adapter:
    config, _ = await load_config(session, tenant, channel)
    return registry.adapter(channel, config)


async def save_config(
    session: AsyncSession,
    tenant: str,
    channel: str,
    *,
    enabled: bool,
    settings: dict[str, str],
    new_secrets: dict[str, str],
) -> ChannelConfig:
    """Plain settings replace the old ones; a secret left empty keeps its stored value."""
    if channel not in CHANNELS:
        raise ChannelInputError("channel", "kanal tidak dikenal")
    cls = registry.ADAPTERS[channel]
    clean = {k: (settings.get(k) or "").strip() for k in cls.plain_fields}
    if channel == "sms" and clean.get("url"):
        try:
            await check_url(clean["url"])
        except UnsafeUrl as exc:
            raise ChannelInputError("url", str(exc)) from exc
    if channel == "sms" and new_secrets.get("credentials"):
        try:
            parse_credentials(new_secrets["credentials"])
        except ValueError as exc:
            raise ChannelInputError("credentials", str(exc)) from exc
    if channel == "email" and clean.get("port") and not clean["port"].isdigit():
        raise ChannelInputError("port", "port SMTP harus berupa angka")
    row = await get_config_row(session, channel)
    if row is None:
        row = ChannelConfig(channel=channel, settings={}, enabled=False)
        session.add(row)
    stored = secrets.decrypt(row.secrets_enc)
    for name in cls.secret_fields:
        value = (new_secrets.get(name) or "").strip()
        if value:
            stored[name] = value
    row.enabled, row.settings = enabled, clean
    row.secrets_enc = secrets.encrypt(stored) if stored else None
    row.updated_at = clock.now()
    await session.flush()
    forget_config(tenant, channel)
    return row


def config_view(row: ChannelConfig | None, channel: str) -> dict[str, Any]:
    cls = registry.ADAPTERS[channel]
    stored = secrets.decrypt(row.secrets_enc) if row is not None else {}
    return {
        "channel": channel,
        "enabled": bool(row and row.enabled),
        "settings": dict(row.settings or {}) if row else {},
        "secrets_set": {name: bool(stored.get(name)) for name in cls.secret_fields},
        "plain_fields": cls.plain_fields,
        "secret_fields": cls.secret_fields,
        "last_test_at": row.last_test_at if row else None,
        "last_test_ok": row.last_test_ok if row else None,
        "last_test_detail": row.last_test_detail if row else None,
    }


async def send_message(
    session: AsyncSession,
    tenant: str,
    channel: str,
    address: str,
    message: Message,
    *,
    require_enabled: bool = True,
) -> SendResult:
    """Send one message now on a tenant's channel (no outbox: the caller keeps its own record).

    A channel the regency has not enabled is refused (its adapter's defaults, e.g. Zenziva's URL,
    must never be used without the regency's own credentials); "uji kirim" passes
    ``require_enabled=False`` so an admin can test before enabling.
    """
    if channel not in CHANNELS:
        return SendResult("rejected", error="kanal tidak dikenal")
    config, enabled = await load_config(session, tenant, channel)
    if require_enabled and not enabled:
        label = CHANNEL_LABELS.get(channel, channel)
        return SendResult("rejected", error=f"kanal {label} belum diaktifkan di halaman admin kanal")
    return await registry.adapter(channel, config).send(address, message)


async def send_text(session: AsyncSession, tenant: str, channel: str, to: str, text: str) -> SendResult:
    """Free text to a citizen now (a text-to-112 chat reply, the location-share link), on the
    regency's own channel configuration; never the alert template. Never raises."""
    return await send_message(session, tenant, channel, to, Message(text=text, plain=True))


async def test_send(session: AsyncSession, tenant: str, channel: str, address: str) -> SendResult:
    """'Uji kirim': a real message to the admin's address; the outcome is stored on the config."""
    row = await get_config_row(session, channel)
    if row is None:
        return SendResult("rejected", error="kanal belum dikonfigurasi")
    forget_config(tenant, channel)
    message = Message(
        text="Pesan uji dari Siaga112. Jika pesan ini sampai, kanal ini siap dipakai untuk penugasan.",
        title="Uji kirim Siaga112",
        template=None,
    )
    result = await send_message(session, tenant, channel, address, message, require_enabled=False)
    row.last_test_at = clock.now()
    row.last_test_ok = result.ok
    row.last_test_detail = (
        ("Terkirim" + (f" (id {result.provider_id})" if result.provider_id else ""))[:300]
        if result.ok
        else (result.error or result.outcome)[:300]
    )
    await session.flush()
    return result


# --- contacts and duty schedules ----------------------------------------------------------------


def on_duty(contact: ChannelContact, at: datetime, tz: str) -> bool:
    local = at.astimezone(ZoneInfo(tz))
    if str(local.isoweekday()) not in (contact.days or ""):
        return False
    start, end = contact.start_time, contact.end_time
    if start is None or end is None:
        return True
    now_t = local.time()
    if start <= end:
        return start <= now_t < end
    return now_t >= start or now_t < end  # overnight shift


async def tenant_timezone(session: AsyncSession, tenant: str) -> str:
    code = (await session.execute(select(Tenant.timezone).where(Tenant.slug == tenant))).scalar_one_or_none()
    return TIMEZONES.get(code or "WIB", "Asia/Jakarta")


@dataclass
class ContactInput:
    name: str
    role: str
    opd_id: int | None
    channels: list[tuple[str, str]]
    days: str
    start_time: str
    end_time: str


def _parse_time(value: str, field: str) -> time | None:
    value = value.strip()
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise ChannelInputError(field, "jam harus berformat JJ:MM") from exc


def validate_contact(data: ContactInput) -> dict[str, Any]:
    if not data.name.strip():
        raise ChannelInputError("name", "nama wajib diisi")
    if data.role not in ("duty", "escalation"):
        raise ChannelInputError("role", "peran harus 'piket' atau 'eskalasi'")
    days = "".join(sorted(set(data.days.replace(",", ""))))
    if not days or any(d not in "1234567" for d in days):
        raise ChannelInputError("days", "pilih minimal satu hari (1 = Senin … 7 = Minggu)")
    start, end = _parse_time(data.start_time, "start_time"), _parse_time(data.end_time, "end_time")
    if (start is None) != (end is None):
        raise ChannelInputError("start_time", "isi jam mulai dan jam selesai, atau kosongkan keduanya")
    channels = []
    for i, (channel, address) in enumerate(data.channels):
        if not address.strip():
            continue
        if channel not in CHANNELS or channel == "webpush":
            raise ChannelInputError(f"channel_{i}", "kanal tidak dikenal")
        try:
            normal = registry.ADAPTERS[channel].normalise_address(address)
        except ValueError as exc:
            raise ChannelInputError(f"address_{i}", str(exc)) from exc
        channels.append({"channel": channel, "address": normal})
    if not channels:
        raise ChannelInputError("address_0", "isi minimal satu alamat kanal")
    return dict(
        name=data.name.strip()[:120],
        role=data.role,
        opd_id=data.opd_id,
        channels=channels,
        days=days,
        start_time=start,
        end_time=end,
    )


async def create_contact(session: AsyncSession, data: ContactInput) -> ChannelContact:
    contact = ChannelContact(**validate_contact(data), is_active=True)
    session.add(contact)
    await session.flush()
    return contact


async def list_contacts(session: AsyncSession) -> list[ChannelContact]:
    return list(
        (
            await session.execute(
                select(ChannelContact)
                .where(ChannelContact.is_active.is_(True))
                .order_by(ChannelContact.opd_id.nulls_first(), ChannelContact.role, ChannelContact.name)
            )
        ).scalars()
    )


async def delivery_log(
    session: AsyncSession, *, limit: int = 200, dispatch_id: int | None = None, opd_id: int | None = None
) -> list[Any]:
    stmt = select(ChannelMessage).order_by(ChannelMessage.id.desc()).limit(limit)
    if dispatch_id is not None:
        stmt = stmt.where(ChannelMessage.dispatch_id == dispatch_id)
    if opd_id is not None:
        stmt = stmt.where(ChannelMessage.opd_id == opd_id)
    return list((await session.execute(stmt)).scalars())


async def save_push_subscription(
    session: AsyncSession, user_id: int, opd_id: int | None, raw: dict[str, Any]
) -> int:
    """Store (or re-activate) a browser's push subscription; the endpoint passes the SSRF guard."""
    import json

    from sqlalchemy.dialects.postgresql import insert

    try:
        sub = parse_subscription(json.dumps(raw))
        await check_url(sub["endpoint"], allowed_hosts=get_settings().webpush_allowed_hosts)
    except UnsafeUrl as exc:
        raise ChannelInputError("endpoint", str(exc)) from exc
    except ValueError as exc:
        raise ChannelInputError("subscription", str(exc)) from exc
    stmt = (
        insert(PushSubscription)
        .values(user_id=user_id, opd_id=opd_id, endpoint=sub["endpoint"], subscription=sub, is_active=True)
        .on_conflict_do_update(
            index_elements=["endpoint"],
            set_={"user_id": user_id, "opd_id": opd_id, "subscription": sub, "is_active": True},
        )
        .returning(PushSubscription.id)
    )
    return (await session.execute(stmt)).scalar_one()
