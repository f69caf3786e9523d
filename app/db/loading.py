"""Reading columns of ORM objects handed to domain-event handlers, in async sessions.

An object just inserted has its server defaults (``received_at``…) unloaded, and one expired by a
commit has every column unloaded; touching them would lazy-load, which an async session forbids.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession


async def ensure_loaded(session: AsyncSession, obj, *names: str) -> None:
    """Load those of ``names`` that are not loaded yet, in one SELECT."""
    state = inspect(obj, raiseerr=False)
    if state is None:  # a plain row (e.g. the intake's): every column is there
        return
    missing = [n for n in names if n in state.unloaded]
    if missing and state.persistent:
        await session.refresh(obj, missing)


async def loaded(session: AsyncSession, obj, *names: str) -> list:
    """The values of ``names``, loading the missing ones first."""
    await ensure_loaded(session, obj, *names)
    return [getattr(obj, n, None) for n in names]
