"""Outbox rows written by domain events, in the transaction that caused them.

dispatch.created → alerts to the OPD's on-duty contacts and its staff's push subscriptions.
sla.warned / sla.breached (level 1 and 2) → the escalation contacts (see app/sla/service.py).
"""

from __future__ import annotations

from app.channels.outbox import queue_dispatch_alerts, queue_escalation
from app.events import DomainEvent, subscribe

STAGES = {1: "breached", 2: "escalated"}


@subscribe("dispatch.created")
async def dispatch_created(session, event: DomainEvent) -> None:
    await queue_dispatch_alerts(session, event.slug, event.dispatch)


@subscribe("sla.warned")
async def sla_warned(session, event: DomainEvent) -> None:
    await queue_escalation(session, event.slug, event.clock, "warning")


@subscribe("sla.breached")
async def sla_breached(session, event: DomainEvent) -> None:
    await queue_escalation(session, event.slug, event.clock, STAGES.get(event.level, "breached"))
