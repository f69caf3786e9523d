"""Creating and revoking API tokens, with the audit record in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record, record_platform
from app.auth.tokens import generate_token
from app.bounds import ascii_int
from app.core.origin import Origin
from app.db import uow
from app.security.models import ApiToken, PlatformApiToken
from app.security.scopes import PLATFORM_SCOPES, TENANT_SCOPES, TOKEN_KINDS


def token_form_problems(
    name: str, kind: str, scopes: list[str], allowed: dict, user_id: int | None, expires_days: str
) -> dict[str, str]:
    errors = {}
    if not name.strip():
        errors["name"] = "Nama token wajib diisi"
    elif len(name.strip()) > 120:
        errors["name"] = "Nama token maksimal 120 karakter"
    if kind not in TOKEN_KINDS:
        errors["kind"] = "Jenis token tidak dikenal"
    elif kind == "personal" and user_id is None:
        errors["user_id"] = "Token pribadi harus dimiliki seorang pengguna"
    if not scopes:
        errors["scopes"] = "Pilih minimal satu izin"
    elif any(s not in allowed for s in scopes):
        errors["scopes"] = "Izin tidak dikenal"
    if expires_days.strip():
        days = ascii_int(expires_days)
        if days is None or not 1 <= days <= 730:
            errors["expires_days"] = "Masa berlaku 1–730 hari (kosongkan untuk tanpa batas)"
    return errors


def _expiry(expires_days: str) -> datetime | None:
    days = ascii_int(expires_days)
    return datetime.now(UTC) + timedelta(days=days) if days else None


# Which scopes a token of each kind may carry.
SCOPES_FOR = {ApiToken: TENANT_SCOPES, PlatformApiToken: PLATFORM_SCOPES}


def _audit(model):
    """A regency's tokens are audited in its own log, the ministry's in the platform log."""
    return record if model is ApiToken else record_platform


async def create_token(
    session: AsyncSession,
    origin: Origin | None,
    actor,
    model,
    *,
    name: str,
    kind: str,
    scopes: list[str],
    user_id: int | None,
    expires_days: str = "",
    opd_id: int | None = None,
) -> tuple:
    """A token of ``model`` (ApiToken or PlatformApiToken) and its plain secret, shown once."""
    new = generate_token()
    row = model(
        name=name.strip(),
        kind=kind,
        lookup=new.lookup,
        token_hash=new.token_hash,
        scopes=sorted(set(scopes)),
        user_id=user_id if kind == "personal" else None,
        created_by=actor.id,
        expires_at=_expiry(expires_days),
        **({"opd_id": opd_id if kind == "service" else None} if model is ApiToken else {}),
    )
    session.add(row)
    await session.flush()
    await _audit(model)(
        session,
        "api_token.create",
        actor_id=actor.id,
        actor_label=actor.email,
        origin=origin,
        entity="api_token",
        entity_id=row.id,
        after={
            "name": row.name,
            "kind": kind,
            "scopes": row.scopes,
            "user_id": row.user_id,
            "opd_id": getattr(row, "opd_id", None),
        },
    )
    await uow.commit(session)
    return row, new.plain


async def revoke_token(session: AsyncSession, origin: Origin | None, actor, model, token_id: int) -> bool:
    row = await session.get(model, token_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await _audit(model)(
            session,
            "api_token.revoke",
            actor_id=actor.id,
            actor_label=actor.email,
            origin=origin,
            entity="api_token",
            entity_id=row.id,
            before={"name": row.name, "revoked_at": None},
            after={"name": row.name, "revoked_at": row.revoked_at},
        )
        await uow.commit(session)
    return True


async def list_tokens(session: AsyncSession, model) -> list:
    return list(
        (
            await session.execute(select(model).order_by(model.revoked_at.is_not(None), model.id.desc()))
        ).scalars()
    )
