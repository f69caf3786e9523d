"""Summary e-mail per tenant and period through the outbox and SMTP (aiosmtpd peer parses MIME)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.channels import summary
from app.channels.jobs import channels_summaries
from app.db import uow
from tests.channels.conftest import add_contact, configure, open_dispatch, run_worker


def _summaries(smtp_peer, since: int):
    return [
        (rcpts, msg) for rcpts, msg in smtp_peer.messages[since:] if msg["Subject"].startswith("Ringkasan")
    ]


async def test_summary_email_per_opd_and_supervisors_idempotent(
    db, tenant_factory, arq_pool, channel_settings, provider_url, smtp_peer
):
    t = await tenant_factory()
    await configure(db, t.slug, provider_url, smtp_peer.port, only=("email",))
    await add_contact(db, t.slug, "damkar", [("email", "damkar@uji.id")], name="Piket Damkar")
    await add_contact(db, t.slug, None, [("email", "pusdalops@uji.id")], name="Supervisor")
    await open_dispatch(db, t.slug, datetime.now(UTC))
    await run_worker(arq_pool)  # the dispatch alert e-mail itself
    since = len(smtp_peer.messages)

    start, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    async with db.tenant(t.slug) as s:
        ids = await summary.queue_summaries(s, t.slug, start, end)
        await uow.commit(s)
    assert len(ids) == 2
    async with db.tenant(t.slug) as s:  # same period again: nothing new (idempotent)
        assert await summary.queue_summaries(s, t.slug, start, end) == []
        await uow.commit(s)
    await run_worker(arq_pool)

    got = {tuple(r): m for r, m in _summaries(smtp_peer, since)}
    assert set(got) == {("damkar@uji.id",), ("pusdalops@uji.id",)}
    for msg in got.values():
        assert msg["From"] == "siaga112@uji.id"
        body = msg.get_body(preferencelist=("plain",)).get_content()
        assert "Ringkasan penugasan 112" in body
        assert "Penugasan: 1" in body and "Belum diterima: 1" in body
        assert "Diterima tepat waktu (sesuai SLA): 0" in body
    assert body.count("Penugasan:") >= 1

    # the cron job for a period with no dispatch still reports (zeros), once
    before = len(smtp_peer.messages)
    end_iso = (end + timedelta(days=2)).isoformat()
    totals = await channels_summaries({"db": db}, end_iso)
    assert totals["queued"] >= 2
    again = await channels_summaries({"db": db}, end_iso)
    assert again["queued"] == 0
    await run_worker(arq_pool)
    later = _summaries(smtp_peer, before)
    assert any("Penugasan: 0" in m.get_body(preferencelist=("plain",)).get_content() for _, m in later)
