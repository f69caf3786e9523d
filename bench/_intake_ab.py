"""API (or webhook) intake of two revisions of this repository, alternately, on this machine.

``python bench/_intake_ab.py BEFORE [AFTER] [--rounds 6] [--seconds 8] [--webhook] [--procs 2]``
(AFTER: the working tree). ``--webhook``: signed telephony events of bench/webhook_intake.py's
flood-day mix instead of API calls (``--seconds`` then counts thousands of events), with
``--pgbouncer`` through PgBouncer in transaction mode (raw ceiling and web processes alike). Each revision is checked out into a temporary git worktree and measured by its OWN
``bench/call_intake.py`` loops (a raw INSERT+COMMIT ceiling at 16 connections, then
``POST /api/v1/t/{slug}/calls`` at 16 connections against two web processes), the two taking
turns so that a machine getting busier or quieter affects both. Prints each run and the means.
Not run by run_all (the name starts with _): it answers "did this change cost intake speed?".
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = re.compile(r"RESULT raw (\d+) api (\d+) p99 ([\d.]+)")


def measure_webhook(thousands: float, procs: int, pooled: bool) -> None:
    """``pooled``: the web processes reach PostgreSQL through PgBouncer (transaction mode)."""
    import contextlib

    sys.path.insert(0, os.getcwd())
    from app.telephony import service as telephony
    from bench.call_intake import raw_loop
    from bench.common import PgBouncer, Server, bench_environment, provision, run
    from bench.webhook_intake import build_events, webhook_loop

    events = build_events(int(thousands * 1000) + 200)
    with bench_environment("ab") as env, PgBouncer() if pooled else contextlib.nullcontext() as pgb:
        slug = provision(env.database_url)
        secret = run(telephony.tenant_secret(env.database_url, slug))
        url = pgb.url(env.database_url) if pgb is not None else env.database_url
        raw = run(raw_loop(url, slug, 16, 4.0, pooled=pooled))
        with Server(env, workers=procs, extra_env={"DATABASE_URL": url}) as srv:
            run(webhook_loop(srv.url, slug, secret, events[:200], 4))  # warm-up
            got = run(webhook_loop(srv.url, slug, secret, events[200:], 16))
    print(f"RESULT raw {raw['rate']:.0f} api {got['rate']:.0f} p99 {got['p99_ms']}", flush=True)


def measure_here(seconds: float, procs: int = 2) -> None:
    """One measurement with the bench modules and app of the current directory."""
    sys.path.insert(0, os.getcwd())
    from bench.call_intake import api_closed_loop, api_closed_loop_raw, login, raw_loop
    from bench.common import Server, bench_environment, make_user, provision, run

    with bench_environment("ab") as env:
        slug = provision(env.database_url)
        email = make_user(env.database_url, slug, "operator")
        raw = run(raw_loop(env.database_url, slug, 16, seconds))
        with Server(env, workers=procs) as srv:
            cookies, csrf = login(srv.url, slug, email)
            run(api_closed_loop_raw(srv.url, slug, cookies, csrf, 4, 1.0))
            api = api_closed_loop(srv.url, slug, cookies, csrf, 16, seconds)
    print(f"RESULT raw {raw['rate']:.0f} api {api['rate']:.0f} p99 {api['p99_ms']}", flush=True)


def _run(tree: Path, seconds: float, webhook: bool, procs: int, pooled: bool) -> tuple[int, int, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    what = (["--webhook"] if webhook else []) + (["--pgbouncer"] if pooled else [])
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--one", str(seconds), "--procs", str(procs), *what],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    found = RESULT.search(out.stdout)
    if found is None:
        raise SystemExit(f"no result from {tree}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return int(found[1]), int(found[2]), float(found[3])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", nargs="?")
    ap.add_argument("after", nargs="?")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--webhook", action="store_true")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--pgbouncer", action="store_true", help="webhook only: through PgBouncer")
    ap.add_argument("--one", type=float, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        return measure_webhook(a.one, a.procs, a.pgbouncer) if a.webhook else measure_here(a.one, a.procs)
    if not a.before:
        ap.error("name the revision to compare with")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for label, rev in (("before", a.before), ("after", a.after)):
            if rev is None:
                trees[label] = ROOT
                continue
            trees[label] = Path(tmp) / label
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(trees[label]), rev], check=True
            )
        try:
            got: dict[str, list[tuple[int, int, float]]] = {"before": [], "after": []}
            for n in range(a.rounds):
                for label in ("before", "after") if n % 2 == 0 else ("after", "before"):
                    raw, api, p99 = _run(trees[label], a.seconds, a.webhook, a.procs, a.pgbouncer)
                    got[label].append((raw, api, p99))
                    print(
                        f"{label:6}  raw {raw:5}/s  api {api:5}/s  ({100 * api / raw:4.1f} %)  p99 {p99} ms"
                    )
            means = {k: statistics.mean(api for _, api, _ in v) for k, v in got.items()}
            print(
                f"mean api: before {means['before']:.1f}/s, after {means['after']:.1f}/s, "
                f"{100 * (means['after'] / means['before'] - 1):+.1f} %"
            )
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
                    )


if __name__ == "__main__":
    main()
