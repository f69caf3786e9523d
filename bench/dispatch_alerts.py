"""How soon after a dispatch is written is its alert accepted by the provider? (target: p99 <= 2 s)

1,000 dispatches across 50 tenants (BENCH_QUICK: 200 across 10), each tenant with the SMS channel
configured (credentials encrypted, as the admin page stores them) and one on-duty contact of
Damkar; one real arq worker PROCESS (`arq app.worker.WorkerSettings`, default settings: 50
concurrent jobs) sends the outbox to a local SMS gateway that speaks the documented Zenziva shape
(form POST, checks userkey/passkey, answers {"status": "1", "messageId": …}).
Latency per alert = ``channel_messages.sent_at - dispatches.sent_at`` (both stamped by the
database / worker clock of this machine); rate = alerts sent / (last sent - first dispatch).
The dispatches are written as fast as the bench can (all tenants concurrently), so the figure
includes the queueing of a burst. Own database and Redis index, dropped at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import uow
from bench.common import (
    ArqWorker,
    bench_environment,
    emit,
    free_port,
    log,
    provision_many,
    quick,
    regency_tenants,
    summarize,
)

TARGETS = {"alert_latency_p99_ms": "<= 2000"}
USERKEY, PASSKEY = "bench-uk", "bench-pk"


def sms_gateway() -> tuple[str, dict]:
    """A Zenziva-shaped gateway on loopback (uvicorn in a thread); returns (url, counters)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    counters = {"accepted": 0, "refused": 0}
    ids = itertools.count(1)

    async def send(request):
        form = await request.form()
        if form.get("userkey") != USERKEY or form.get("passkey") != PASSKEY or not form.get("message"):
            counters["refused"] += 1
            return JSONResponse({"status": "0", "text": "Userkey / Passkey Salah"})
        counters["accepted"] += 1
        return JSONResponse(
            {"messageId": str(next(ids)), "to": form.get("to"), "status": "1", "text": "Success"}
        )

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/sendsms/", send, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}/sendsms/", counters


async def _run(env, n_tenants: int, per_tenant: int) -> dict:
    from sqlalchemy import func, select, update

    from app import events
    from app.calls.models import Incident
    from app.channels import service
    from app.channels.models import ChannelContact, ChannelMessage
    from app.config import get_settings
    from app.db.database import Database
    from app.db.engine import make_async_engine
    from app.dispatch.models import Category, Dispatch, Opd
    from app.sla.models import SlaPolicy
    from app.tenancy.registry import known_tenant

    events.load_subscribers()
    url, counters = sms_gateway()
    engine = make_async_engine(get_settings(), url=env.database_url, pool_size=10, max_overflow=10)
    db = Database(engine)
    tenants = regency_tenants(n_tenants)
    t0 = time.perf_counter()
    await provision_many(engine, tenants, concurrency=4)
    log(f"provisioned {n_tenants} tenants in {time.perf_counter() - t0:.1f} s")
    slugs = [t.slug for t in tenants]
    for slug in slugs:
        async with db.tenant(slug) as s:
            # No SLA timers in the way: only the alerts are measured.
            await s.execute(update(SlaPolicy).values(acknowledge_s=3600, arrival_s=None, resolution_s=None))
            await service.save_config(
                s,
                slug,
                "sms",
                enabled=True,
                settings={"url": url},
                new_secrets={"credentials": f"userkey={USERKEY}\npasskey={PASSKEY}"},
            )
            opd_id = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
            s.add(
                ChannelContact(
                    opd_id=opd_id,
                    name="Piket Damkar",
                    role="duty",
                    days="1234567",
                    channels=[{"channel": "sms", "address": "+6281234567890"}],
                    is_active=True,
                )
            )
            await s.commit()

    async with ArqWorker(
        env, "alerts", OUTBOUND_ALLOW_NETWORKS="127.0.0.0/8", PUBLIC_BASE_URL="https://siaga112.bench"
    ) as worker:
        pool = worker.pool
        try:
            # Wait until the worker consumes jobs (its start-up is not part of the figure).
            ready = await pool.enqueue_job("ping")
            await ready.result(timeout=120, poll_delay=0.2)
            t_create = time.perf_counter()

            async def open_for(slug: str):
                async with db.tenant(slug) as s:
                    tenant = await known_tenant(s, slug)  # what a request would carry
                    opd_id = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
                    cat_id = (
                        await s.execute(select(Category.id).where(Category.code == "fire"))
                    ).scalar_one()
                    for _ in range(per_tenant):
                        inc = Incident(category_id=cat_id, priority=1, status="open", address="Jl. Bench 1")
                        s.add(inc)
                        await s.flush()
                        d = Dispatch(incident_id=inc.id, opd_id=opd_id, status="sent", version=1)
                        s.add(d)
                        await s.flush()
                        await events.emit(s, "dispatch.created", tenant, dispatch=d, incident=inc)
                        await uow.commit(s)  # the outbox row commits with the dispatch; its job after

            await asyncio.gather(*(open_for(slug) for slug in slugs))
            log(f"wrote {n_tenants * per_tenant} dispatches in {time.perf_counter() - t_create:.1f} s")
            total = n_tenants * per_tenant
            deadline = time.time() + 180
            while time.time() < deadline:
                sent = 0
                for slug in slugs:
                    async with db.tenant(slug) as s:
                        sent += (
                            await s.execute(
                                select(func.count())
                                .select_from(ChannelMessage)
                                .where(ChannelMessage.status == "sent")
                            )
                        ).scalar_one()
                if sent >= total:
                    break
                await asyncio.sleep(0.5)
            latency, first, last = [], None, None
            for slug in slugs:
                async with db.tenant(slug) as s:
                    for msg_sent, d_sent in (
                        await s.execute(
                            select(ChannelMessage.sent_at, Dispatch.sent_at)
                            .join(Dispatch, Dispatch.id == ChannelMessage.dispatch_id)
                            .where(ChannelMessage.status == "sent")
                        )
                    ).all():
                        latency.append((msg_sent - d_sent).total_seconds())
                        first = d_sent if first is None or d_sent < first else first
                        last = msg_sent if last is None or msg_sent > last else last
            figures = {
                "tenants": n_tenants,
                "dispatches": total,
                "alerts_sent": len(latency),
                "gateway_accepted": counters["accepted"],
                "gateway_refused": counters["refused"],
            }
            figures.update(summarize(latency, "alert_latency_"))
            if first and last:
                figures["outbox_rate_per_s"] = round(
                    len(latency) / max(0.001, (last - first).total_seconds()), 1
                )
            return figures
        finally:
            await engine.dispose()


def main() -> dict:
    os.environ["OUTBOUND_ALLOW_NETWORKS"] = "127.0.0.0/8"  # the gateway is on loopback
    os.environ["SECRET_KEY"] = (
        "bench-secret-key-" + "x" * 40
    )  # the worker's key: it must decrypt the credentials
    n_tenants, per_tenant = (10, 20) if quick() else (50, 20)
    with bench_environment("alerts") as env:
        return asyncio.run(_run(env, n_tenants, per_tenant))


if __name__ == "__main__":
    emit(main())
