"""Checks and changes behind the tenant admin pages; every change is audited with before/after."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import glossary
from app.admin.areas import ensure_kecamatan
from app.admin.models import AccountLink, Kecamatan, Kelurahan, kelurahan_key
from app.audit.service import record, snapshot
from app.auth.models import TENANT_ROLES, User
from app.bounds import ascii_digits, ascii_int
from app.core.origin import Origin
from app.db import uow
from app.dispatch.models import OPD_TYPES, Category, CategoryOpd, Opd
from app.onboarding.validation import (
    EMAIL_RE,
    check_email,
    check_required,
    clean_text,
    hash_token,
    new_token,
    normalize_phone,
)
from app.security import outbound
from app.tenancy.regions import slug_for

log = logging.getLogger("siaga112.admin")
INVITE_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=24)
ROLE_LABELS = {r: glossary.ROLE[r] for r in ("admin", "supervisor", "operator", "opd_staff")}
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def code_from(name: str) -> str:
    return slug_for(name)[:40] or "opd"


def check_webhook(url: str) -> str | None:
    """Problems with an OPD webhook URL as typed (https, public host, no credentials); the
    address it resolves to is checked again at every send (app.security.outbound)."""
    return outbound.check_url(url)


def _name_and_code(form, errors: dict, label: str, max_len: int, creating: bool) -> dict:
    """Name, and on creation a code (typed, or derived from the name): shared by OPDs and categories."""
    name = clean_text(form.get("name"), max_len)
    check_required(errors, "name", name, label, max_len)
    values: dict = {"name": name}
    if creating:
        code = (form.get("code") or "").strip().lower() or code_from(name)
        if not CODE_RE.match(code):
            errors["code"] = "Kode: huruf kecil, angka, garis bawah; 2–40 karakter, diawali huruf"
        values["code"] = code
    return values


def check_opd(form: dict, creating: bool) -> tuple[dict, dict]:
    errors: dict = {}
    values = _name_and_code(form, errors, "Nama OPD", 200, creating)
    opd_type = form.get("type") or ""
    if opd_type not in OPD_TYPES:
        errors["type"] = "Pilih jenis OPD"
    values["type"] = opd_type
    number = re.sub(r"[\s\-]", "", form.get("emergency_number") or "")
    if number and not re.fullmatch(r"\+?\d{3,15}", number, re.ASCII):
        errors["emergency_number"] = "Nomor darurat: 3–15 angka (mis. 113, 0755-20113)"
    values["emergency_number"] = number or None
    contacts = []
    for line in (form.get("escalation_contact") or "").replace(",", "\n").splitlines():
        item = line.strip()
        if not item:
            continue
        if "@" in item:
            if not EMAIL_RE.match(item):
                errors["escalation_contact"] = f"Kontak '{item}' bukan email yang valid"
            contacts.append(item.lower())
        else:
            phone = normalize_phone(item)
            if phone is None:
                errors["escalation_contact"] = f"Kontak '{item}' bukan nomor telepon atau email yang valid"
            contacts.append(phone or item)
    joined = "\n".join(contacts)
    if len(joined) > 254:
        errors["escalation_contact"] = "Kontak eskalasi terlalu panjang (maksimal 254 karakter)"
    values["escalation_contact"] = joined or None
    url = (form.get("webhook_url") or "").strip()
    if url:
        if len(url) > 500:
            errors["webhook_url"] = "URL webhook maksimal 500 karakter"
        elif problem := check_webhook(url):
            errors["webhook_url"] = problem
    values["webhook_url"] = url or None
    values["is_active"] = form.get("is_active") in ("on", "true", "1")
    return values, errors


async def _audit(
    session: AsyncSession,
    admin: User,
    origin: Origin | None,
    action: str,
    entity: str,
    entity_id: Any,
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """The admin's change in the tenant's audit log (committed with the change)."""
    await record(
        session,
        action,
        actor_id=admin.id,
        actor_label=admin.email,
        origin=origin,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )


async def save_opd(
    session: AsyncSession, opd: Opd | None, values: dict, admin: User, origin: Origin | None
) -> tuple[Opd | None, dict]:
    errors: dict = {}
    if opd is None:
        if (await session.execute(select(Opd.id).where(Opd.code == values["code"]))).scalar():
            errors["code"] = f"Kode '{values['code']}' sudah dipakai OPD lain"
            return None, errors
        opd = Opd(**values)
        session.add(opd)
        await session.flush()
        before = None
        action = "opd.create"
    else:
        before = snapshot(opd)
        for key, value in values.items():
            setattr(opd, key, value)
        action = "opd.update"
    await session.flush()
    await _audit(session, admin, origin, action, "opd", opd.id, before=before, after=snapshot(opd))
    await uow.commit(session)
    return opd, errors


def check_category(form, active_opd_ids: set[int], creating: bool) -> tuple[dict, list[int], dict]:
    errors: dict = {}
    values = _name_and_code(form, errors, "Nama kategori", 120, creating)
    prio = ascii_int(form.get("default_priority"))
    if prio is None or not 1 <= prio <= 4:
        errors["default_priority"] = "Prioritas 1 (tertinggi) sampai 4"
    values["default_priority"] = prio
    sort_order = ascii_int(form.get("sort_order") or "100")
    if sort_order is None or not 0 <= sort_order <= 32000:
        errors["sort_order"] = "Urutan: angka 0–32000"
    values["sort_order"] = sort_order
    values["is_active"] = form.get("is_active") in ("on", "true", "1")
    routed = []
    for raw in form.getlist("opd_ids"):
        if not ascii_digits(str(raw)) or int(raw) not in active_opd_ids:
            errors["opd_ids"] = "OPD tujuan tidak dikenal atau tidak aktif"
        else:
            routed.append(int(raw))
    if values["is_active"] and not routed and "opd_ids" not in errors:
        errors["opd_ids"] = "Kategori aktif harus diteruskan ke minimal satu OPD"
    return values, sorted(set(routed)), errors


async def routing_of(session: AsyncSession, category_id: int) -> list[int]:
    return sorted(
        (
            await session.execute(select(CategoryOpd.opd_id).where(CategoryOpd.category_id == category_id))
        ).scalars()
    )


async def set_routing(session: AsyncSession, category_id: int, opd_ids: list[int]) -> None:
    await session.execute(delete(CategoryOpd).where(CategoryOpd.category_id == category_id))
    if opd_ids:
        session.add_all([CategoryOpd(category_id=category_id, opd_id=o) for o in opd_ids])


async def save_category(
    session: AsyncSession,
    cat: Category | None,
    values: dict,
    routed: list[int],
    admin: User,
    origin: Origin | None,
) -> tuple[Category | None, dict]:
    if cat is None:
        if (await session.execute(select(Category.id).where(Category.code == values["code"]))).scalar():
            return None, {"code": f"Kode '{values['code']}' sudah dipakai kategori lain"}
        cat = Category(**values)
        session.add(cat)
        await session.flush()
        before, action = None, "category.create"
    else:
        before = snapshot(cat) | {"opd_ids": await routing_of(session, cat.id)}
        for key, value in values.items():
            setattr(cat, key, value)
        action = "category.update"
    await set_routing(session, cat.id, routed)
    await session.flush()
    await _audit(
        session,
        admin,
        origin,
        action,
        "category",
        cat.id,
        before=before,
        after=snapshot(cat) | {"opd_ids": routed},
    )
    await uow.commit(session)
    return cat, {}


# --- users, invitations and password resets ----------------------------------------------------


def check_user(form: dict, opd_ids: set[int], creating: bool) -> tuple[dict, dict]:
    errors: dict = {}
    values: dict = {}
    if creating:
        name = clean_text(form.get("full_name"), 200)
        check_required(errors, "full_name", name, "Nama", 200)
        values["full_name"] = name
        values["email"] = check_email(errors, "email", form.get("email") or "")
    role = form.get("role") or ""
    if role not in TENANT_ROLES:
        errors["role"] = "Pilih peran"
    values["role"] = role
    opd_raw = form.get("opd_id") or ""
    if role == "opd_staff":
        if not ascii_digits(opd_raw) or int(opd_raw) not in opd_ids:
            errors["opd_id"] = "Petugas OPD harus terhubung ke satu OPD aktif"
        else:
            values["opd_id"] = int(opd_raw)
    else:
        values["opd_id"] = None
    return values, errors


async def issue_link(session: AsyncSession, user: User, purpose: str, admin: User | None) -> str:
    """A fresh one-time link; earlier unused links of the same user stop working."""
    now = datetime.now(UTC)
    await session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == user.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token()
    session.add(
        AccountLink(
            user_id=user.id,
            token_hash=hash_token(token),
            purpose=purpose,
            expires_at=now + (INVITE_TTL if purpose == "invite" else RESET_TTL),
            created_by=admin.id if admin else None,
        )
    )
    return token


def link_path(slug: str, token: str) -> str:
    return f"/t/{slug}/account/{token}"


async def invite_user(
    session: AsyncSession, slug: str, values: dict, admin: User, origin: Origin | None
) -> tuple[str | None, dict]:
    if (await session.execute(select(User.id).where(User.email == values["email"]))).scalar():
        return None, {"email": "Email ini sudah terdaftar sebagai pengguna"}
    user = User(password_hash=None, is_active=True, session_version=1, **values)
    session.add(user)
    await session.flush()
    token = await issue_link(session, user, "invite", admin)
    await _audit(session, admin, origin, "user.invite", "user", user.id, after=snapshot(user))
    await uow.commit(session)
    log.info("invitation link for %s (%s): %s", user.email, slug, link_path(slug, token))
    return link_path(slug, token), {}


async def reset_password(
    session: AsyncSession, slug: str, user: User, admin: User, origin: Origin | None
) -> str:
    before = snapshot(user)
    user.session_version += 1  # every open session of this user ends now
    token = await issue_link(session, user, "reset", admin)
    await _audit(
        session, admin, origin, "user.reset_password", "user", user.id, before=before, after=snapshot(user)
    )
    await uow.commit(session)
    log.info("password reset link for %s (%s): %s", user.email, slug, link_path(slug, token))
    return link_path(slug, token)


async def other_active_admins(session: AsyncSession, user_id: int) -> int:
    return len(
        (
            await session.execute(
                select(User.id).where(User.role == "admin", User.is_active, User.id != user_id)
            )
        ).all()
    )


async def set_active(
    session: AsyncSession, user: User, active: bool, admin: User, origin: Origin | None
) -> str | None:
    if not active and user.id == admin.id:
        return "Anda tidak dapat menonaktifkan akun Anda sendiri"
    before = snapshot(user)
    user.is_active = active
    if not active:
        user.session_version += 1
        await session.execute(
            update(AccountLink)
            .where(AccountLink.user_id == user.id, AccountLink.used_at.is_(None))
            .values(used_at=datetime.now(UTC))
        )
    await _audit(
        session,
        admin,
        origin,
        "user.activate" if active else "user.deactivate",
        "user",
        user.id,
        before=before,
        after=snapshot(user),
    )
    await uow.commit(session)
    return None


async def change_role(
    session: AsyncSession, user: User, values: dict, admin: User, origin: Origin | None
) -> dict:
    if user.id == admin.id and values["role"] != "admin":
        return {"role": "Anda tidak dapat menurunkan peran Anda sendiri; minta admin lain"}
    before = snapshot(user)
    user.role, user.opd_id = values["role"], values["opd_id"]
    if before["role"] != user.role:
        user.session_version += 1
    await _audit(session, admin, origin, "user.role", "user", user.id, before=before, after=snapshot(user))
    await uow.commit(session)
    return {}


async def link_user(session: AsyncSession, token: str) -> tuple[AccountLink | None, User | None, str | None]:
    """The link and its user, or why it cannot be used (shown to the person)."""
    link = (
        await session.execute(select(AccountLink).where(AccountLink.token_hash == hash_token(token)))
    ).scalar()
    if link is None:
        return None, None, None
    user = await session.get(User, link.user_id)
    if link.used_at is not None:
        return (
            link,
            user,
            "Tautan ini sudah dipakai atau sudah diganti dengan tautan baru. Minta admin mengirim tautan baru.",
        )
    if link.expires_at <= datetime.now(UTC):
        return link, user, "Tautan ini sudah kedaluwarsa. Minta admin mengirim tautan baru."
    if user is None or not user.is_active:
        return link, user, "Akun ini tidak aktif."
    return link, user, None


async def consume_link(
    session: AsyncSession, token: str, password_hash: str, origin: Origin | None
) -> User | None:
    """Set the password through a link, atomically: two concurrent uses cannot both succeed."""
    now = datetime.now(UTC)
    user_id = (
        await session.execute(
            update(AccountLink)
            .where(
                AccountLink.token_hash == hash_token(token),
                AccountLink.used_at.is_(None),
                AccountLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(AccountLink.user_id)
        )
    ).scalar()
    if user_id is None:
        await session.rollback()
        return None
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or not user.is_active:
        await session.rollback()
        return None
    user.password_hash = password_hash
    user.session_version += 1
    await record(
        session,
        "user.set_password",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin,
        entity="user",
        entity_id=user.id,
    )
    await uow.commit(session)
    return user


# --- areas: kecamatan and kelurahan for address pick lists ----------------------------------------


async def seed_kecamatan(session: AsyncSession, region_code: str) -> None:
    """A regency without kecamatan yet gets the official list (once, on the first visit)."""
    if not (await session.execute(select(func.count()).select_from(Kecamatan))).scalar():
        if await ensure_kecamatan(session, region_code):
            await uow.commit(session)


async def add_kecamatan(session: AsyncSession, form: dict, admin: User, origin: Origin | None) -> dict:
    """Add a kecamatan (committed and audited); returns the problems by field instead."""
    name = clean_text(form.get("kecamatan_name"), 120)
    if not name or len(name) > 120:
        return {"kecamatan_name": "Nama kecamatan wajib diisi (maksimal 120 karakter)"}
    taken = select(Kecamatan.id).where(func.lower(Kecamatan.name) == name.lower())
    if (await session.execute(taken)).scalar():
        return {"kecamatan_name": f"Kecamatan {name} sudah ada"}
    kec = Kecamatan(name=name)
    session.add(kec)
    await session.flush()
    await _audit(session, admin, origin, "area.kecamatan.create", "kecamatan", kec.id, after=snapshot(kec))
    await uow.commit(session)
    return {}


async def add_kelurahan(session: AsyncSession, form: dict, admin: User, origin: Origin | None) -> dict:
    """Add a kelurahan/desa to a kecamatan (committed and audited); or the problems by field."""
    name = clean_text(form.get("kelurahan_name"), 120)
    kec_raw = form.get("kecamatan_id") or ""
    errors = {}
    kec = await session.get(Kecamatan, int(kec_raw)) if ascii_digits(kec_raw) and len(kec_raw) < 10 else None
    if kec is None:
        errors["kecamatan_id"] = "Pilih kecamatan"
    if not name or len(name) > 120:
        errors["kelurahan_name"] = "Nama kelurahan/desa wajib diisi (maksimal 120 karakter)"
    elif kec is not None:
        taken = select(Kelurahan.id).where(Kelurahan.key == kelurahan_key(kec.id, name))
        if (await session.execute(taken)).scalar():
            errors["kelurahan_name"] = f"{name} sudah ada di Kecamatan {kec.name}"
    if errors or kec is None:
        return errors
    kel = Kelurahan(kecamatan_id=kec.id, name=name, key=kelurahan_key(kec.id, name))
    session.add(kel)
    await session.flush()
    await _audit(session, admin, origin, "area.kelurahan.create", "kelurahan", kel.id, after=snapshot(kel))
    await uow.commit(session)
    return {}


async def delete_kelurahan(session: AsyncSession, kel: Kelurahan, admin: User, origin: Origin | None) -> None:
    before = snapshot(kel)
    await session.delete(kel)
    await _audit(session, admin, origin, "area.kelurahan.delete", "kelurahan", kel.id, before=before)
    await uow.commit(session)
