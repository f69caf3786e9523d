"""Call intake through the API: concurrent calls of one regency are logged together (group commit).

Every request is authenticated and validated on its own; only the writing is shared: the calls
waiting for one tenant go to ``service.create_calls`` in one transaction (app.batching explains
when a flush starts and how one bad call fails only its own request). Results, errors and the
live notice are exactly those of logging the call alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from app.batching import Batcher
from app.calls import service
from app.calls.schemas import CallCreate
from app.core.errors import ServiceError
from app.core.principal import Principal
from app.core.tenant import TenantInfo
from app.db.database import Database


def _wrote_nothing(exc: BaseException) -> bool:
    """Raised by a statement or a check before the commit: the transaction wrote nothing, so each
    call can be tried alone. A lost connection is not: the commit may have happened."""
    return isinstance(exc, (ServiceError, IntegrityError, DataError))


class IntakeQueue:
    def __init__(self, db: Database, redis: Any = None, max_batch: int = 64):
        self.db = db
        self.redis = redis
        self.batcher: Batcher[TenantInfo, tuple[Principal, CallCreate], Any] = Batcher(
            self._flush, max_batch=max_batch, retry_alone=_wrote_nothing
        )

    async def submit(self, tenant: TenantInfo, actor: Principal, data: CallCreate):
        """The logged call (read-only row with the Call columns), committed. Calls of one tenant
        (equal TenantInfo values: the registry's) share a flush."""
        return await self.batcher.submit(tenant, (actor, data))

    async def _flush(self, tenant: TenantInfo, intakes: list[tuple[Principal, CallCreate]]) -> list:
        async with self.db.tenant(tenant.slug) as session:
            return await service.create_calls(session, tenant, intakes, self.redis)

    async def aclose(self) -> None:
        await self.batcher.aclose()
