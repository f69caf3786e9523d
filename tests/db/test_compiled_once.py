"""Statements on the hot paths are compiled once per process, not at every execution.

SQLAlchemy never caches its PostgreSQL ``INSERT`` construct (``ON CONFLICT``); through
``session.execute`` such a statement is compiled again each time. When 1,000 SLA timers fell due,
compiling the breach notifications was 11 % of the worker's CPU, and the caller-reputation upsert
was compiled for every intake batch. These run through ``app.db.direct.Direct``.
"""

from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.sql import compiler

from app.dispatch.models import Opd
from app.notify.models import Notification, WebhookDelivery
from app.notify.service import add_notification, queue_webhook
from app.reputation import service as reputation
from app.reputation.models import caller_reputation


@pytest.fixture
def compilations(monkeypatch):
    """The statements SQLAlchemy compiles while the test runs."""
    seen: list[str] = []
    original = compiler.SQLCompiler.__init__

    def counting(self, dialect, statement, *args, **kwargs):
        seen.append(type(statement).__name__)
        return original(self, dialect, statement, *args, **kwargs)

    monkeypatch.setattr(compiler.SQLCompiler, "__init__", counting)
    return seen


async def test_breach_notifications_and_webhooks_compile_once(db, tenant_a, compilations):
    async with db.tenant(tenant_a.slug) as s:
        opd_id = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
    opd = SimpleNamespace(id=opd_id, webhook_url="https://opd.example/hook", webhook_secret="s" * 32)
    tag = uuid.uuid4().hex

    async def breach(n: int) -> tuple[int | None, int | None, int | None]:
        async with db.tenant(tenant_a.slug) as s:
            first = await add_notification(
                s, audience="opd", opd_id=opd_id, kind="sla.breached", level=1, title="SLA terlampaui",
                data={"clock_id": n}, dedupe_key=f"{tag}:{n}:opd",
            )  # fmt: skip
            again = await add_notification(
                s, audience="opd", opd_id=opd_id, kind="sla.breached", title="SLA terlampaui",
                dedupe_key=f"{tag}:{n}:opd",
            )  # fmt: skip
            hook = await queue_webhook(s, tenant_a.slug, opd, "sla.breached", {"n": n}, f"{tag}:{n}")
            await s.rollback()  # nothing to keep: the rows are checked inside the transaction below
            return first, again, hook

    first = await breach(1)  # may compile: the first use in this process
    compilations.clear()
    second = await breach(2)
    assert compilations == []
    assert first[0] is not None and first[1] is None and first[2] is not None  # dedupe_key holds
    assert second[0] is not None and second[1] is None and second[2] is not None

    async with db.tenant(tenant_a.slug) as s:  # what the statements write
        await add_notification(
            s, audience="supervisors", opd_id=opd_id, kind="sla.warning", title="Peringatan SLA",
            body="Target 10 menit", link="/t/x/sla/clocks/1", data={"level": 0}, dedupe_key=f"{tag}:w",
        )  # fmt: skip
        row = (
            await s.execute(select(Notification).where(Notification.dedupe_key == f"{tag}:w"))
        ).scalar_one()
        assert (row.audience, row.opd_id, row.level, row.body, row.data) == (
            "supervisors",
            None,  # a supervisors' notice belongs to no OPD
            0,
            "Target 10 menit",
            {"level": 0},
        )
        assert row.created_at is not None
        await queue_webhook(s, tenant_a.slug, opd, "sla.breached", {"at": date(2026, 12, 7)}, f"{tag}:h")
        hook = (
            await s.execute(select(WebhookDelivery).where(WebhookDelivery.dedupe_key == f"{tag}:h"))
        ).scalar_one()
        assert (hook.status, hook.attempts, hook.payload) == ("pending", 0, {"at": "2026-12-07"})
        await s.rollback()


async def test_caller_reputation_upsert_compiles_once_and_adds(db, tenant_a, compilations):
    number = "+62812" + str(uuid.uuid4().int)[:8]
    day = date(2026, 12, 7)

    async def add(rows) -> None:
        async with db.tenant(tenant_a.slug) as s:
            await reputation.add(s, tenant_a.id, rows)
            await s.commit()

    await add([(number, day, {"prank": 1})])
    compilations.clear()
    await add([(number, day, {"prank": 2, "silent": 1}), (number, date(2026, 12, 6), {"genuine": 1})])
    await add([(number, day, {"silent": -5})])  # a correction never goes below zero
    assert compilations == []
    key = reputation.current()
    async with db.public() as s:
        rows = (
            await s.execute(
                select(
                    caller_reputation.c.day,
                    caller_reputation.c.prank,
                    caller_reputation.c.silent,
                    caller_reputation.c.genuine,
                )
                .where(
                    caller_reputation.c.key_id == key.id,
                    caller_reputation.c.number_hash == key.digest(number),
                    caller_reputation.c.tenant_id == tenant_a.id,
                )
                .order_by(caller_reputation.c.day)
            )
        ).all()
        assert [tuple(r) for r in rows] == [(date(2026, 12, 6), 0, 0, 1), (day, 3, 0, 0)]
        assert (
            await s.execute(select(func.count()).select_from(caller_reputation).where(
                caller_reputation.c.number_hash == key.digest(number)))
        ).scalar_one() == 2  # fmt: skip


async def test_outbox_rows_compile_once_and_keep_their_defaults(db, tenant_a, compilations):
    from app.channels.models import ChannelMessage
    from app.channels.outbox import queue_text

    tag = uuid.uuid4().hex

    async def queue(n: int):
        async with db.tenant(tenant_a.slug) as s:
            first = await queue_text(s, tenant_a.slug, "sms", "+6281234567890", f"Uji {n}", f"{tag}:{n}")
            again = await queue_text(s, tenant_a.slug, "sms", "+6281234567890", f"Uji {n}", f"{tag}:{n}")
            row = (await s.execute(select(ChannelMessage).where(ChannelMessage.id == first))).scalar_one()
            got = SimpleNamespace(**{c.key: getattr(row, c.key) for c in ChannelMessage.__table__.columns})
            await s.rollback()
            return first, again, got

    await queue(1)
    compilations.clear()
    first, again, row = await queue(2)
    assert [c for c in compilations if "Insert" in c] == []  # the row's read-back is a plain SELECT
    assert first is not None and again is None  # the dedupe_key holds
    assert (row.kind, row.channel, row.address, row.recipient, row.step, row.status, row.attempts) == (
        "text",
        "sms",
        "+6281234567890",
        "+6281234567890",
        0,
        "pending",
        0,
    )
    assert row.body == {"text": "Uji 2"} and row.contact_id is None and row.next_attempt_at is not None


async def test_idempotency_keys_compile_once(db, tenant_a, compilations):
    from app.calls import idempotency

    tag = uuid.uuid4().hex
    async with db.tenant(tenant_a.slug) as s:
        await idempotency.remember(s, "incident", f"{tag}:1", [1])
        compilations.clear()
        await idempotency.remember(s, "incident", f"{tag}:2", [2, 3])
        assert [c for c in compilations if "Insert" in c] == []
        with pytest.raises(idempotency.Repeated) as repeated:
            await idempotency.remember(s, "incident", f"{tag}:2", [9])
        assert repeated.value.ids == [2, 3]
        await s.rollback()
