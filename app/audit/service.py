"""Recording audit entries in the caller's transaction (so the change and its record commit together)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditLog, PlatformAuditLog
from app.core.json import jsonable
from app.core.origin import Origin


def snapshot(obj, fields: list[str] | None = None) -> dict:
    """A before/after picture of an ORM object's columns (secrets are never included)."""
    cols = fields or [c.key for c in obj.__table__.columns]
    return jsonable({c: getattr(obj, c) for c in cols if "password" not in c and "secret" not in c})


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    actor_label: str | None = None,
    origin: Origin | None = None,
    entity: str | None = None,
    entity_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Add a tenant audit row; the caller's commit persists it with the change itself."""
    await session.execute(
        insert(AuditLog).values(
            actor_id=actor_id,
            actor_label=actor_label,
            ip=origin.ip if origin else None,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            before=jsonable(before),
            after=jsonable(after),
        )
    )


async def record_platform(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    actor_label: str | None = None,
    origin: Origin | None = None,
    tenant_slug: str | None = None,
    entity: str | None = None,
    entity_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    await session.execute(
        insert(PlatformAuditLog).values(
            actor_id=actor_id,
            actor_label=actor_label,
            ip=origin.ip if origin else None,
            action=action,
            tenant_slug=tenant_slug,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            before=jsonable(before),
            after=jsonable(after),
        )
    )
