"""In-process domain events, handled inside the same transaction as the change that caused them.

The call workflow emits events (``call.created``, ``dispatch.status_changed`` …); other domains
(SLA clocks, national rollups, notifications) register handlers that write their rows in the
SAME transaction, so a dispatch never exists without its SLA clock. ``emit_many`` hands a batch
of events of one name (batched call intake) to handlers subscribed with ``batch=True`` in one
call, so they write one set of rows in one round trip; plain handlers get them one by one.
Work that must happen after the commit is queued with ``after_commit`` (a coroutine) or
``after_commit_redis`` (Redis commands: an arq timer, a live notice). It hangs on the session's
SQLAlchemy ``after_commit`` event, so no commit can skip it (a rollback discards it); the one
commit, ``app.db.uow.commit``, also waits for it. All of one commit's Redis commands go out
in ONE pipeline, one round trip. If that fails (Redis
down), the periodic reconciliation jobs repair it from PostgreSQL.

Event names and payloads:
  call.created            call=Call, or the intake's read-only row with the same attributes
                          (API intake emits a batch of these at once: emit_many)
  call.updated            call=Call, changes=dict[field, (old, new)]
  incident.opened         incident=Incident, call=Call | None
  incident.updated        incident=Incident, changes=dict
  dispatch.created        dispatch=Dispatch, incident=Incident
  dispatch.status_changed dispatch=Dispatch, old=str, new=str
  sla.clock_closed        clock=<SLA clock row>, breached=bool   (emitted by app/sla)
  sla.breached            clock=<SLA clock row>, level=int        (emitted by app/sla)
  sla.warned              clock=<SLA clock row>                   (emitted by app/sla)
  channel.message_received inbound=app.channels.base.Inbound      (emitted by app/channels:
                          a WhatsApp/Telegram/SMS message that is not a reply to an alert)
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.core.tenant import TenantInfo
from app.domains import import_part
from app.jobs import get_queue

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, "DomainEvent"], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, "list[DomainEvent]"], Awaitable[None]]
_handlers: dict[str, list[tuple[Handler | BatchHandler, bool]]] = defaultdict(list)


@dataclass
class DomainEvent:
    name: str
    tenant: TenantInfo  # the value from the request (or the job), never looked up again
    actor_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.tenant.slug

    def __getattr__(self, item: str) -> Any:
        try:
            return self.payload[item]
        except KeyError as exc:
            raise AttributeError(item) from exc


def subscribe(name: str, *, batch: bool = False) -> Callable:
    """Decorator: ``@subscribe("dispatch.created") async def f(session, event): ...``;
    ``batch=True``: ``async def f(session, events: list[DomainEvent])``, called once per emit."""

    def register(fn):
        if (fn, batch) not in _handlers[name]:
            _handlers[name].append((fn, batch))
        return fn

    return register


def unsubscribe(name: str, fn) -> None:
    _handlers[name] = [(f, b) for f, b in _handlers[name] if f is not fn]


async def emit(
    session: AsyncSession, name: str, tenant: TenantInfo, actor_id: int | None = None, **payload
) -> None:
    await emit_many(session, [DomainEvent(name, tenant, actor_id, payload)])


async def emit_many(session: AsyncSession, batch: list[DomainEvent]) -> None:
    """Events of ONE name and tenant, in order, handled in the session's transaction."""
    if not batch:
        return
    for handler, takes_batch in list(_handlers.get(batch[0].name, ())):
        if takes_batch:
            await cast(BatchHandler, handler)(session, batch)
        else:
            for event in batch:
                await cast(Handler, handler)(session, event)


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[Any]]) -> None:
    session.info.setdefault("after_commit", []).append(action)


def after_commit_redis(session: AsyncSession, write: Callable[[Any], Any], redis: Any = None) -> None:
    """``write(pipeline)`` queues Redis commands to send once the transaction commits, on ``redis``
    (default: the arq queue's connection, looked up at commit time)."""
    session.info.setdefault("after_commit_redis", []).append((redis, write))


async def wait_sent(session: AsyncSession) -> None:
    """Wait until the work started by the session's last commit has run (failures are logged, not
    raised). The work hangs on the session's ``after_commit`` event (``_on_commit``), so any commit
    sends it; ``app.db.uow.commit`` adds this wait, so a request or job sees its notices and timers
    sent before it answers."""
    tasks = session.info.pop(_SENDING, None)
    if tasks:
        await asyncio.gather(*tasks)


_SENDING = "after_commit_sending"


def _on_commit(sync_session: Session) -> None:
    """SQLAlchemy's after_commit: start the queued work at once. SQLAlchemy also fires it when a
    SAVEPOINT is released; only the outermost commit makes the work durable."""
    if sync_session.in_nested_transaction():
        return
    writes = sync_session.info.pop("after_commit_redis", None)
    actions = sync_session.info.pop("after_commit", None)
    if not writes and not actions:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a sync session outside the event loop (migrations, CLI): nothing async to run
        log.error("after-commit work queued on a session committed outside the event loop: dropped")
        return
    task = loop.create_task(_run_after_commit(writes or [], actions or []))
    _running.add(task)
    task.add_done_callback(_running.discard)
    sync_session.info.setdefault(_SENDING, []).append(task)


def _on_rollback(sync_session: Session) -> None:
    """A rolled-back transaction's notices and timers must never go out with a later commit.
    A SAVEPOINT rollback (also reported here) keeps the outer transaction's work queued.
    Limit: work queued inside a rolled-back SAVEPOINT stays queued too (no code uses savepoints)."""
    if sync_session.in_nested_transaction():
        return
    sync_session.info.pop("after_commit_redis", None)
    sync_session.info.pop("after_commit", None)


_running: set[asyncio.Task] = set()  # strong references until done (the loop keeps only weak ones)
sa_event.listen(Session, "after_commit", _on_commit)
sa_event.listen(Session, "after_rollback", _on_rollback)


async def _run_after_commit(writes: list, actions: list) -> None:
    if writes:
        await _send_redis(writes)
    for action in actions:
        try:
            await action()
        except Exception:  # the DB is the source of truth; reconciliation repairs this
            log.exception("after-commit action failed")


async def _send_redis(writes: list) -> None:
    by_client: dict[int, tuple[Any, list]] = {}
    try:
        for redis, write in writes:
            redis = redis if redis is not None else get_queue()
            by_client.setdefault(id(redis), (redis, []))[1].append(write)
        for redis, group in by_client.values():
            pipe = redis.pipeline(transaction=False)
            for write in group:
                write(pipe)
            await pipe.execute()
    except Exception:  # as above: the reconciliation jobs repair a lost timer
        log.exception("after-commit Redis writes failed")


def load_subscribers() -> None:
    """Import every domain's ``handlers`` module (``app.domains``) so its @subscribe handlers register."""
    import_part("handlers")
