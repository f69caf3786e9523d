"""Call intake through the API: concurrent calls of one regency are logged together (group commit).

Every request is authenticated and validated on its own; only the writing is shared: the calls
waiting for one tenant go to ``service.create_calls`` in one transaction (app.batching explains
when a flush starts and how one bad call fails only its own request). Results, errors and the
live notice are exactly those of logging the call alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from app.auth.principal import Principal
from app.batching import Batcher
from app.calls import service
from app.calls.schemas import CallCreate
from app.core.errors import ServiceError
from app.db.database import Database


def _wrote_nothing(exc: BaseException) -> bool:
    """Raised by a statement or a check before the commit: the transaction wrote nothing, so each
    call can be tried alone. A lost connection is not: the commit may have happened."""
    return isinstance(exc, (ServiceError, IntegrityError, DataError))


class IntakeQueue:
    def __init__(self, db: Database, redis: Any = None, max_batch: int = 64):
        self.db = db
        self.redis = redis
        self.batcher: Batcher[str, tuple[Principal, CallCreate], Any] = Batcher(
            self._flush, max_batch=max_batch, retry_alone=_wrote_nothing
        )

    async def submit(self, tenant_slug: str, actor: Principal, data: CallCreate):
        """The logged call (read-only row with the Call columns), committed."""
        return await self.batcher.submit(tenant_slug, (actor, data))

    async def _flush(self, tenant_slug: str, intakes: list[tuple[Principal, CallCreate]]) -> list:
        async with self.db.tenant(tenant_slug) as session:
            return await service.create_calls(session, tenant_slug, intakes, self.redis)

    async def aclose(self) -> None:
        await self.batcher.aclose()
