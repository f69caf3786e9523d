"""The unit of work: one transaction of one tenant (or of ``public``), who acts in it, and the
work that must follow its commit.

    async with UnitOfWork(db, tenant, actor) as work:
        ...                      # services read and write through work.session
        await work.commit()      # the change, its audit row and its events, at once

Leaving the block without ``commit()`` (an early return, an exception) rolls back, and the
rollback discards the queued notices and timers. After-commit work (``app.events.after_commit``
/ ``after_commit_redis``) hangs on the session's SQLAlchemy events, so even a commit made some
other way sends it; ``commit`` here, the application's only one, also waits until it is sent.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.core.draining import refuse_commit_past_grace
from app.db.direct import commit_with_later

if TYPE_CHECKING:
    from app.core.principal import Principal
    from app.core.tenant import TenantInfo
    from app.db.database import Database


async def commit(session: AsyncSession) -> None:
    """The one commit of the application (tests/unit/test_architecture.py keeps it so): the
    transaction, then a wait for the notices and timers its commit started."""
    refuse_commit_past_grace()  # shutting down past its grace: roll back, the client gets a 503
    await commit_with_later(session)  # queued writes and COMMIT in one round trip (app.db.direct)
    await session.commit()
    await events.wait_sent(session)


class UnitOfWork:
    def __init__(self, db: Database, tenant: TenantInfo | None = None, actor: Principal | None = None):
        self.db = db
        self.tenant = tenant  # None: the public schema
        self.actor = actor
        self.committed = False
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its 'async with' block")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self.db.tenant(self.tenant.slug) if self.tenant is not None else self.db.public()
        self.committed = False
        return self

    async def commit(self) -> None:
        await commit(self.session)
        self.committed = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self.session, None
        try:
            if session.in_transaction():
                await session.rollback()  # whatever was not committed (also after a commit: nothing)
        finally:
            await session.close()
