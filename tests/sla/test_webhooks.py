"""Outgoing OPD webhooks: HMAC-SHA256 signed, retried with backoff by a real arq worker."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.notify import jobs as notify_jobs
from app.notify.models import WebhookDelivery
from app.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from tests.sla.conftest import open_dispatch, run_worker, set_policy, set_webhook

SECRET = "rahasia-damkar-xyz"


@pytest.fixture
def receiver():
    """A loopback HTTP endpoint that fails the first ``fail_first`` requests with 503."""
    state = {"requests": [], "fail_first": 2}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            state["requests"].append((dict(self.headers), body))
            code = 503 if len(state["requests"]) <= state["fail_first"] else 204
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()
    server.server_close()


def test_signature_covers_timestamp_and_body():
    body = b'{"a":1}'
    sig = sign(SECRET, 1_700_000_000, body)
    assert verify(SECRET, "1700000000", body, sig, now=1_700_000_010)
    assert not verify(SECRET, "1700000000", b'{"a":2}', sig, now=1_700_000_010)  # body tampered
    assert not verify(SECRET, "1700000001", body, sig, now=1_700_000_010)  # timestamp tampered
    assert not verify("other", "1700000000", body, sig, now=1_700_000_010)
    assert not verify(SECRET, "1700000000", body, sig, now=1_700_000_000 + 3600)  # replay too old


async def test_breach_webhook_signed_and_retried_until_delivered(
    db, tenant_factory, arq_pool, fake_clock, receiver, monkeypatch
):
    monkeypatch.setattr(notify_jobs, "BACKOFF_BASE_S", 0.05)
    t = await tenant_factory()
    await set_policy(db, t.slug, priority=1, acknowledge_s=60)
    await set_webhook(db, t.slug, "damkar", url=receiver["url"], secret=SECRET, contact="+62 812 0000 113")
    _, dispatch_id = await open_dispatch(db, t.slug, fake_clock.now() - timedelta(minutes=3))

    await run_worker(arq_pool)  # breach job, then delivery job: 503, 503, 204

    assert len(receiver["requests"]) == 3
    for headers, body in receiver["requests"]:
        assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        assert headers["X-Siaga112-Event"] == "sla.breached"
    payload = json.loads(receiver["requests"][-1][1])
    assert payload["clock"]["dispatch_id"] == dispatch_id and payload["clock"]["lateness_ms"] == 120_000
    assert payload["opd"]["escalation_contact"] == "+62 812 0000 113"
    async with db.tenant(t.slug) as s:
        (d,) = (await s.execute(select(WebhookDelivery))).scalars().all()
    assert d.status == "delivered" and d.attempts == 3 and d.last_status_code == 204


async def test_delivery_gives_up_after_max_tries(
    db, tenant_factory, arq_pool, fake_clock, receiver, monkeypatch
):
    monkeypatch.setattr(notify_jobs, "BACKOFF_BASE_S", 0.01)
    receiver["fail_first"] = 100
    t = await tenant_factory()
    await set_policy(db, t.slug, priority=1, acknowledge_s=60)
    await set_webhook(db, t.slug, "damkar", url=receiver["url"], secret=SECRET)
    await open_dispatch(db, t.slug, fake_clock.now() - timedelta(minutes=3))
    await run_worker(arq_pool)
    async with db.tenant(t.slug) as s:
        (d,) = (await s.execute(select(WebhookDelivery))).scalars().all()
    assert d.status == "failed" and d.attempts == notify_jobs.MAX_TRIES and d.last_error == "HTTP 503"
    assert len(receiver["requests"]) == notify_jobs.MAX_TRIES
