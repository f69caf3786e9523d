"""Where a webhook event's CPU goes: py-spy samples ONE web process under webhook load.

``python bench/_profile_webhook.py [--events 3000] [--concurrency 16]`` (needs ``py-spy``,
``pip install py-spy``; not a project dependency, and not run by run_all: the name starts with _).

One uvicorn process (so every event is in the profile), the simulated flood-day mix of
bench/webhook_intake.py, closed loop. The process's CPU time (utime+stime from /proc) divided by
the events answered gives CPU per event; py-spy's samples split it into stages, each sample
counted once, in the first stage (top to bottom) that any of its frames matches.
``PROFILE_RAW=/path/file.raw`` keeps py-spy's raw samples there (collapsed stacks) for a closer look.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, bench_environment, log, provision, run

# (stage, substrings of a frame); the first stage any frame of a sample matches wins.
STAGES = [
    ("signature (HMAC, secret cache)", ("app/telephony/signing.py",)),
    ("replay check (Redis SET NX)", ("claim_event_id", "release_event_id", "_claim_ids")),
    ("SLA handlers", ("app/sla/",)),
    ("national handlers", ("app/national/",)),
    ("live notice + Redis pipeline", ("_send_redis", "notify_after_commit", "live.py")),
    ("commit", ("commit (app/events.py", "commit (sqlalchemy", "_commit")),
    ("event log", ("log_event", "_EVENT_LOG")),
    ("call upsert, merge, callbacks (SQL + Python)", ("app/telephony/service.py", "app/telephony/intake.py")),
    ("parse + validate body", ("model_validate_json", "parse (app/telephony/http.py")),
    ("tenant lookup, session set-up", ("app/web/deps.py", "app/tenancy/registry.py", "app/db/")),
    ("batching (app/batching.py)", ("app/batching.py",)),
    ("HTTP stack (uvicorn, Starlette, FastAPI)", ("uvicorn/protocols", "starlette/", "fastapi/", "h11")),
    ("psycopg / SQLAlchemy (other)", ("psycopg", "sqlalchemy")),
    ("other Python", ("",)),
]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


EVENT_LOOP = "event loop (uvloop's C code: sockets, epoll, callbacks)"


def classify(raw: Path) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        if stack.rsplit(";", 1)[-1].startswith("Runner.run"):  # no Python frame below the loop
            counts[EVENT_LOOP] += int(n)
            continue
        for stage, needles in STAGES:
            if any(needle in stack for needle in needles):
                counts[stage] += int(n)
                break
    return counts


def main(events: int = 3000, concurrency: int = 16) -> dict:
    from app.telephony import service as telephony
    from bench.webhook_intake import build_events, webhook_loop

    if not shutil.which("py-spy"):
        raise SystemExit("py-spy not found (pip install py-spy)")
    batch = build_events(events)
    with bench_environment("webprof") as env:
        slug = provision(env.database_url)
        secret = run(telephony.tenant_secret(env.database_url, slug))
        with Server(env, workers=1) as srv:
            pid = srv.procs[0].pid
            run(webhook_loop(srv.url, slug, secret, batch[:100], 4))  # warm-up
            out = Path(os.environ.get("PROFILE_RAW") or Path(tempfile.mkdtemp()) / "webhook.raw")
            spy = subprocess.Popen(
                ["py-spy", "record", "-r", "250", "--format", "raw", "-o", str(out), "--pid", str(pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            asyncio.run(asyncio.sleep(1.0))
            c0 = cpu_s(pid)
            r = run(webhook_loop(srv.url, slug, secret, batch[100:], concurrency))
            c1 = cpu_s(pid)
            spy.send_signal(2)
            spy.wait(30)
    counts = classify(out)
    total = sum(counts.values()) or 1
    per_event_ms = 1000 * (c1 - c0) / max(1, r["count"])
    log(f"{r['count']} events, {r['rate']:.0f}/s, web process CPU {per_event_ms:.3f} ms/event")
    figures = {
        "events": r["count"],
        "events_per_s": round(r["rate"], 1),
        "web_cpu_ms_per_event": round(per_event_ms, 3),
        "statuses": r["statuses"],
    }
    for stage in [*(s for s, _ in STAGES), EVENT_LOOP]:
        if counts[stage]:
            share = counts[stage] / total
            figures[f"{stage}"] = f"{100 * share:.1f} % = {share * per_event_ms:.3f} ms"
    return figures


if __name__ == "__main__":
    from bench.common import emit

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    emit(main(a.events, a.concurrency))
