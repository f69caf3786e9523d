"""Signup submission and the Kominfo state machine of a regency.

Tenant status: pending → verified → active ⇄ suspended. The application carries the review
conversation: submitted → sent_back → submitted … → verified. Every change is audited in
public (platform audit) and mirrored in the tenant's own audit log, and drops the registry
cache entry so the new status applies at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.areas import ensure_kecamatan
from app.audit.service import record, record_platform, snapshot
from app.auth.models import User
from app.core.errors import ConflictError
from app.core.origin import Origin
from app.core.principal import Principal
from app.core.tenant import TIMEZONES
from app.db import uow
from app.db.database import Database
from app.dispatch.models import Opd
from app.onboarding.models import SignupApplication
from app.tenancy.defaults import DEFAULT_OPDS
from app.tenancy.models import Tenant
from app.tenancy.provision import NewTenant, TenantExists, drop_tenant_schema, provision_tenant
from app.tenancy.regions import regency, slug_for
from app.tenancy.registry import TenantRegistry

WIZARD_STEPS = ("Kabupaten/kota", "Petugas Kominfo", "Dasar hukum", "OPD", "Akun admin", "Kirim")
DEFAULT_OPD_CODES = [o["code"] for o in DEFAULT_OPDS]


class StateError(ConflictError):
    """An action that the current status does not allow (shown to the user, 409)."""


def taken_message(name: str, status: str) -> str:
    return (
        f"{name} sudah terdaftar di Siaga112 (status: {status}). Satu kabupaten/kota hanya dapat "
        "mendaftar sekali; hubungi admin Dinas Kominfo setempat atau Kominfo pusat."
    )


async def registered_regions(session: AsyncSession) -> dict[str, str]:
    """Kemendagri code → status, for every regency that already has a tenant."""
    rows = await session.execute(select(Tenant.region_code, Tenant.status))
    return {code: status for code, status in rows.all()}


async def region_taken(session: AsyncSession, code: str) -> str | None:
    status = (await session.execute(select(Tenant.status).where(Tenant.region_code == code))).scalar()
    if status is not None:
        return status
    live = (
        await session.execute(
            select(SignupApplication.status).where(
                SignupApplication.region_code == code, SignupApplication.status != "draft"
            )
        )
    ).scalar()
    return live


def missing_steps(a: SignupApplication) -> dict[int, str]:
    missing = {}
    if not a.region_code:
        missing[1] = "Pilih kabupaten/kota"
    if not (a.contact_name and a.contact_email and a.contact_phone):
        missing[2] = "Lengkapi data petugas Dinas Kominfo"
    if not (a.legal_number and a.legal_date and a.document_path):
        missing[3] = "Lengkapi dasar hukum dan unggah dokumennya"
    if not (a.opds and (a.opds.get("codes") or a.opds.get("custom"))):
        missing[4] = "Pilih OPD yang menandatangani komitmen layanan"
    if not (a.admin_name and a.admin_email and a.admin_password_hash):
        missing[5] = "Buat akun admin pertama"
    return missing


def custom_opd_code(name: str) -> str:
    return ("x_" + slug_for(name))[:40]


async def apply_opd_selection(session: AsyncSession, selection: dict) -> None:
    """Signed-up OPDs active, the other defaults inactive, custom OPDs added (type "other")."""
    chosen = set(selection.get("codes") or [])
    await session.execute(
        update(Opd).where(Opd.code.in_(DEFAULT_OPD_CODES)).values(is_active=Opd.code.in_(chosen))
    )
    existing = set((await session.execute(select(Opd.code))).scalars())
    for name in selection.get("custom") or []:
        code = custom_opd_code(name)
        if code not in existing:
            session.add(Opd(code=code, name=name, type="other", is_active=True))
            existing.add(code)


async def submit_application(
    db: Database, a: SignupApplication, origin: Origin | None, registry: TenantRegistry | None = None
) -> Tenant:
    """Create the pending tenant with its admin and OPDs, and mark the application submitted.

    The tenant schema is created in one transaction; if anything after it fails the schema and
    registry row are removed again, so a failed submit leaves nothing half-written.
    """
    reg = regency(a.region_code or "")
    if reg is None:
        raise StateError("Kabupaten/kota tidak dikenal")
    try:
        await provision_tenant(
            db.engine, NewTenant(reg.slug, reg.short_name, reg.code, reg.province, reg.timezone, "pending")
        )
    except TenantExists:
        async with db.public() as s:
            status = await region_taken(s, reg.code) or "pending"
        raise StateError(taken_message(reg.short_name, status)) from None
    try:
        async with db.tenant(reg.slug) as s:
            await apply_opd_selection(s, a.opds or {})
            await ensure_kecamatan(s, reg.code)
            user = User(
                email=a.admin_email,
                full_name=a.admin_name,
                role="admin",
                opd_id=None,
                password_hash=a.admin_password_hash,
                is_active=True,
                session_version=1,
            )
            s.add(user)
            await s.flush()
            await record(
                s,
                "tenant.signup",
                actor_id=user.id,
                actor_label=a.admin_email,
                origin=origin,
                entity="tenant",
                entity_id=reg.slug,
                after=_application_view(a),
            )
            await uow.commit(s)
        async with db.public() as s:
            tenant = (await s.execute(select(Tenant).where(Tenant.slug == reg.slug))).scalar_one()
            row = await s.get(SignupApplication, a.id, with_for_update=True)
            if row is None or row.status != "draft":
                raise StateError("Pendaftaran ini sudah dikirim")
            now = datetime.now(UTC)
            row.status, row.tenant_id, row.submitted_at, row.updated_at = "submitted", tenant.id, now, now
            row.admin_password_hash = None
            await record_platform(
                s,
                "tenant.signup",
                actor_label=a.admin_email,
                origin=origin,
                tenant_slug=reg.slug,
                entity="signup_application",
                entity_id=row.id,
                after=_application_view(row),
            )
            await uow.commit(s)
    except BaseException:
        await drop_tenant_schema(db.engine, reg.slug)
        raise
    _forget(registry, reg.slug)
    return tenant


def _application_view(a: SignupApplication) -> dict:
    return snapshot(
        a,
        [
            "region_code",
            "status",
            "contact_name",
            "contact_email",
            "contact_phone",
            "legal_number",
            "legal_date",
            "document_sha256",
            "opds",
            "admin_name",
            "admin_email",
            "review_comment",
        ],
    )


def _forget(registry: TenantRegistry | None, slug: str) -> None:
    """This process's registry drops its entry at once (the others expire within their TTL)."""
    if registry is not None:
        registry.forget(slug)


async def application_of(session: AsyncSession, tenant_id: int) -> SignupApplication | None:
    return (
        await session.execute(
            select(SignupApplication)
            .where(SignupApplication.tenant_id == tenant_id)
            .order_by(SignupApplication.id.desc())
            .limit(1)
        )
    ).scalar()


async def launch_rank(session: AsyncSession, tenant: Tenant) -> int | None:
    """1-based position among active regencies ordered by launch date ("the 84th to launch")."""
    if tenant.status != "active" or tenant.activated_at is None:
        return None
    return (
        await session.execute(
            select(func.count())
            .select_from(Tenant)
            .where(
                Tenant.status == "active",
                Tenant.activated_at.is_not(None),
                or_(
                    Tenant.activated_at < tenant.activated_at,
                    and_(Tenant.activated_at == tenant.activated_at, Tenant.id <= tenant.id),
                ),
            )
        )
    ).scalar_one()


async def _transition(
    db: Database,
    tenant_id: int,
    action: str,
    actor: Principal,
    origin: Origin | None,
    *,
    registry: TenantRegistry | None,
    allowed: tuple[str, ...],
    change,
    comment: str | None = None,
) -> Tenant:
    async with db.public() as s:
        tenant = await s.get(Tenant, tenant_id, with_for_update=True)
        if tenant is None:
            raise StateError("Kabupaten/kota tidak ditemukan")
        app_row = await application_of(s, tenant.id)
        if tenant.status not in allowed:
            raise StateError(f"Tindakan ini tidak dapat dilakukan pada status '{tenant.status}'")
        before = snapshot(tenant) | ({"application": app_row.status} if app_row else {})
        change(tenant, app_row)
        after = snapshot(tenant) | ({"application": app_row.status} if app_row else {})
        if comment:
            after["comment"] = comment
        await record_platform(
            s,
            action,
            actor_id=actor.user_id,
            actor_label=actor.email,
            origin=origin,
            tenant_slug=tenant.slug,
            entity="tenant",
            entity_id=tenant.id,
            before=before,
            after=after,
        )
        async with db.tenant(tenant.slug) as ts:
            await record(
                ts,
                action,
                actor_label=f"Kominfo: {actor.email}",
                origin=origin,
                entity="tenant",
                entity_id=tenant.slug,
                before=before,
                after=after,
            )
            await uow.commit(ts)
        await uow.commit(s)
    _forget(registry, tenant.slug)
    return tenant


async def verify(
    db: Database,
    tenant_id: int,
    actor: Principal,
    origin: Origin | None = None,
    registry: TenantRegistry | None = None,
) -> Tenant:
    def change(t: Tenant, a: SignupApplication | None) -> None:
        if a is not None and a.status != "submitted":
            raise StateError("Data belum dikirim ulang oleh kabupaten/kota")
        now = datetime.now(UTC)
        t.status, t.verified_at = "verified", now
        if a is not None:
            a.status, a.reviewed_by, a.reviewed_at, a.updated_at = "verified", actor.email, now, now

    return await _transition(
        db, tenant_id, "tenant.verify", actor, origin, registry=registry, allowed=("pending",), change=change
    )


async def send_back(
    db: Database,
    tenant_id: int,
    comment: str,
    actor: Principal,
    origin: Origin | None = None,
    registry: TenantRegistry | None = None,
) -> Tenant:
    def change(t: Tenant, a: SignupApplication | None) -> None:
        if a is None or a.status != "submitted":
            raise StateError("Hanya pendaftaran yang sudah dikirim yang dapat dikembalikan")
        now = datetime.now(UTC)
        a.status, a.review_comment, a.reviewed_by, a.reviewed_at, a.updated_at = (
            "sent_back",
            comment,
            actor.email,
            now,
            now,
        )

    return await _transition(
        db,
        tenant_id,
        "tenant.send_back",
        actor,
        origin,
        registry=registry,
        allowed=("pending",),
        change=change,
        comment=comment,
    )


def launch_datetime(launch: date | None, tz: str) -> datetime:
    """The launch instant: now for today (or no date), else local midnight of that day."""
    now = datetime.now(UTC)
    zone = ZoneInfo(TIMEZONES[tz])
    if launch is None or launch == now.astimezone(zone).date():
        return now
    return datetime.combine(launch, time(0), tzinfo=zone).astimezone(UTC)


async def activate(
    db: Database,
    tenant_id: int,
    launch: date | None,
    actor: Principal,
    origin: Origin | None = None,
    registry: TenantRegistry | None = None,
) -> Tenant:
    def change(t: Tenant, a: SignupApplication | None) -> None:
        t.status, t.activated_at = "active", launch_datetime(launch, t.timezone)

    return await _transition(
        db,
        tenant_id,
        "tenant.activate",
        actor,
        origin,
        registry=registry,
        allowed=("verified",),
        change=change,
    )


async def suspend(
    db: Database,
    tenant_id: int,
    reason: str,
    actor: Principal,
    origin: Origin | None = None,
    registry: TenantRegistry | None = None,
) -> Tenant:
    def change(t: Tenant, a: SignupApplication | None) -> None:
        t.status, t.suspended_at = "suspended", datetime.now(UTC)

    return await _transition(
        db,
        tenant_id,
        "tenant.suspend",
        actor,
        origin,
        registry=registry,
        allowed=("verified", "active"),
        change=change,
        comment=reason,
    )


async def reinstate(
    db: Database,
    tenant_id: int,
    actor: Principal,
    origin: Origin | None = None,
    registry: TenantRegistry | None = None,
) -> Tenant:
    def change(t: Tenant, a: SignupApplication | None) -> None:
        t.status, t.suspended_at = ("active" if t.activated_at else "verified"), None

    return await _transition(
        db,
        tenant_id,
        "tenant.reinstate",
        actor,
        origin,
        registry=registry,
        allowed=("suspended",),
        change=change,
    )


async def resubmit(
    db: Database, tenant_slug: str, values: dict, actor: Principal, origin: Origin | None = None
) -> None:
    """The regency corrects its data after a send-back; the application returns to the queue."""
    async with db.public() as s:
        tenant = (await s.execute(select(Tenant).where(Tenant.slug == tenant_slug))).scalar_one()
        a = await application_of(s, tenant.id)
        if a is None or a.status != "sent_back" or tenant.status != "pending":
            raise StateError("Tidak ada pendaftaran yang perlu diperbaiki")
        before = _application_view(a)
        for key, value in values.items():
            setattr(a, key, value)
        a.status, a.updated_at = "submitted", datetime.now(UTC)
        after = _application_view(a)
        await record_platform(
            s,
            "tenant.resubmit",
            actor_id=actor.user_id,
            actor_label=actor.email,
            origin=origin,
            tenant_slug=tenant_slug,
            entity="signup_application",
            entity_id=a.id,
            before=before,
            after=after,
        )
        async with db.tenant(tenant_slug) as ts:
            await record(
                ts,
                "tenant.resubmit",
                actor_id=actor.user_id,
                actor_label=actor.email,
                origin=origin,
                entity="signup_application",
                entity_id=a.id,
                before=before,
                after=after,
            )
            await uow.commit(ts)
        await uow.commit(s)


def queue_filter(status: str):
    """Kominfo queue tabs: pending review, sent back, awaiting activation, active, suspended."""
    return {
        "review": and_(Tenant.status == "pending", SignupApplication.status == "submitted"),
        "sent_back": and_(Tenant.status == "pending", SignupApplication.status == "sent_back"),
        "verified": Tenant.status == "verified",
        "active": Tenant.status == "active",
        "suspended": Tenant.status == "suspended",
    }[status]


async def queue(session: AsyncSession, tab: str) -> list[tuple[Tenant, SignupApplication | None]]:
    latest = (
        select(func.max(SignupApplication.id))
        .where(SignupApplication.tenant_id == Tenant.id)
        .correlate(Tenant)
        .scalar_subquery()
    )
    stmt = (
        select(Tenant, SignupApplication)
        .outerjoin(SignupApplication, SignupApplication.id == latest)
        .where(queue_filter(tab))
        .order_by(tuple_(func.coalesce(SignupApplication.submitted_at, Tenant.created_at), Tenant.id))
    )
    return [(t, a) for t, a in (await session.execute(stmt)).all()]


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    return {
        tab: len(await queue(session, tab))
        for tab in ("review", "sent_back", "verified", "active", "suspended")
    }
