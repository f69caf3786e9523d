"""Shared helpers for the benchmark scripts (conventions: bench/README.md).

Every benchmark runs against its OWN throw-away database (and, if it starts a server, its own
Redis index), and drives servers that run in SEPARATE processes (uvicorn, started here), so the
load generator never shares an event loop or a GIL with the code it measures. Nothing here
touches the developer's or the tests' data.

Typical use::

    from bench.common import bench_environment, provision, make_user, Server, login, summarize

    def main() -> dict:
        with bench_environment("intake") as env:        # fresh DB at head + Redis index
            slug = provision(env.database_url)           # one active tenant
            email = make_user(env.database_url, slug, "operator")
            with Server(env, workers=2) as srv:          # uvicorn subprocess on a free port
                cookies, csrf = login(srv.url, slug, email)
                ...
            return {"figure": 1.0}
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` works as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))

BENCH_PG_URL = os.environ.get(
    "BENCH_PG_URL", os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
PG_ADMIN = BENCH_PG_URL
REDIS_BASE = os.environ.get(
    "BENCH_REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
).rstrip("/")
BENCH_PASSWORD = "bench-sandi-112-aman"
# Claimed with the same key as tests/conftest.py, so a test run never picks (and flushes) our index.
_REDIS_CLAIM_KEY = "siaga112:test-claim"
RESULT_MARKER = "BENCH_RESULT "


def quick() -> bool:
    """BENCH_QUICK=1 asks every benchmark for a smaller run (CI smoke, development)."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")


def log(*parts) -> None:
    """Progress goes to stderr so stdout stays for figures."""
    print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- database and Redis


def _point_app_at(url: str) -> None:
    """Settings read the environment: make in-process helpers (provision, users) use this DB."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("ENVIRONMENT", "test")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
    from app.config import get_settings

    get_settings.cache_clear()


def create_database(name: str | None = None, migrate: bool = True) -> str:
    """CREATE DATABASE (unique name) and migrate public to head; returns its URL."""
    import psycopg

    name = name or f"siaga112_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(BENCH_PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{BENCH_PG_URL.rsplit('/', 1)[0]}/{name}"
    if migrate:
        from app.db.engine import make_sync_engine
        from app.db.migrate import upgrade_public

        engine = make_sync_engine(url)
        with engine.begin() as conn:
            upgrade_public(conn)
        engine.dispose()
    return url


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(BENCH_PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(name: str) -> Iterator[str]:
    """Create ``siaga112_bench_<name>_<hex>``, migrate public, point the app at it; drop on exit."""
    db = f"siaga112_bench_{name}_{uuid.uuid4().hex[:6]}"
    created = False
    try:
        url = create_database(db, migrate=False)
        created = True
        _point_app_at(url)
        from app.db.engine import make_sync_engine
        from app.db.migrate import upgrade_public

        engine = make_sync_engine(url)
        with engine.begin() as conn:
            upgrade_public(conn)
        engine.dispose()
        yield url
    finally:
        if created:
            drop_database(db)


@contextmanager
def redis_index() -> Iterator[str]:
    """Claim a free Redis database index (1-15) for this run; flushed and released on exit."""
    import redis

    token = secrets.token_hex(8)
    chosen = None
    for index in range(15, 0, -1):  # from the top: test runs claim from the bottom
        r = redis.Redis.from_url(f"{REDIS_BASE}/{index}")
        try:
            if r.set(_REDIS_CLAIM_KEY, token, nx=True, ex=3 * 3600):
                chosen = index
                break
        finally:
            r.close()
    if chosen is None:
        raise RuntimeError("no free Redis database index (1-15) for this benchmark")
    url = f"{REDIS_BASE}/{chosen}"
    try:
        yield url
    finally:
        r = redis.Redis.from_url(url)
        try:
            r.flushdb()  # also releases the claim key
        finally:
            r.close()


@dataclass
class BenchEnv:
    database_url: str
    redis_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        """Process environment for a server/worker bound to this bench's DB and Redis."""
        env = os.environ.copy()
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            ENVIRONMENT="production",
            SECRET_KEY="bench-secret-key-" + "x" * 40,
            NATIONAL_HASH_KEYS="bench:" + "n" * 40,  # required in production (docs/reputation.md)
            COOKIE_SECURE="false",  # plain http on loopback
            TENANT_CACHE_TTL_S="5",
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env


class ArqWorker:
    """A real arq worker PROCESS (``arq app.worker.WorkerSettings``) bound to the bench's DB and
    Redis, plus an arq pool for the bench on the SAME namespaced queue (app/namespace.py: a pool
    on arq's default queue would enqueue jobs no worker reads). ``async with ArqWorker(env) as w``;
    ``w.pool`` is installed as the app's queue for the block."""

    def __init__(self, env: BenchEnv, label: str, **env_overrides: str):
        self.env, self.label, self.overrides = env, label, env_overrides
        self.proc: subprocess.Popen | None = None
        self.pool = None

    async def __aenter__(self) -> ArqWorker:
        from arq import create_pool
        from arq.connections import RedisSettings

        from app import jobs, namespace
        from app.config import Settings

        process_env = self.env.env(**self.overrides)
        self.log = open(f"/tmp/{self.label}_bench_worker_{os.getpid()}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arq", "app.worker.WorkerSettings"],
            env=process_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        settings = Settings(database_url=self.env.database_url, redis_url=self.env.redis_url)
        self.pool = namespace.tag(
            await create_pool(
                RedisSettings.from_dsn(self.env.redis_url), default_queue_name=namespace.queue_name(settings)
            ),
            settings,
        )
        jobs.set_queue(self.pool)
        return self

    async def __aexit__(self, *exc) -> None:
        from app import jobs

        assert self.proc is not None and self.pool is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        log(f"worker log: {self.log.name}")
        jobs.set_queue(None)
        await self.pool.aclose()


@contextmanager
def bench_environment(label: str = "bench") -> Iterator[BenchEnv]:
    """A fresh database (public at head) plus a claimed Redis index, both removed afterwards."""
    # `kill <pid>` must still drop the database, release the Redis index and stop the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with bench_database(label) as url, redis_index() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        from app.config import get_settings

        get_settings.cache_clear()
        yield BenchEnv(url, redis_url)


# ---------------------------------------------------------------- data set-up


def run(coro):
    """asyncio.run for set-up helpers called from sync code."""
    return asyncio.run(coro)


def regency_tenants(n: int, offset: int = 0):
    """The first ``n`` of Indonesia's 514 kabupaten/kota as NewTenant rows (real codes and names)."""
    from app.tenancy.provision import NewTenant
    from app.tenancy.regions import regencies

    regs = sorted(regencies().values(), key=lambda r: r.code)[offset : offset + n]
    return [NewTenant(r.slug, r.short_name, r.code, r.province, r.timezone, "active") for r in regs]


async def provision_many(engine, tenants, concurrency: int = 4) -> list[float]:
    """Provision tenants ``concurrency`` at a time; returns each one's seconds."""
    from app.tenancy.provision import provision_tenant

    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(t):
        async with sem:
            t0 = time.perf_counter()
            await provision_tenant(engine, t)
            times.append(time.perf_counter() - t0)

    await asyncio.gather(*(one(t) for t in tenants))
    return times


async def provision_async(
    database_url: str,
    slug: str | None = None,
    status: str = "active",
    region_code: str | None = None,
    name: str | None = None,
) -> str:
    from app.config import get_settings
    from app.db.engine import make_async_engine
    from app.tenancy.provision import NewTenant, provision_tenant

    slug = slug or f"bench_{uuid.uuid4().hex[:6]}"
    engine = make_async_engine(get_settings(), url=database_url, pool_size=2, max_overflow=0)
    try:
        await provision_tenant(
            engine,
            NewTenant(
                slug,
                name or f"Kota Bench {slug[-6:]}",
                region_code or f"B{uuid.uuid4().hex[:4]}",
                "Sumatera Barat",
                "WIB",
                status,
            ),
        )
    finally:
        await engine.dispose()
    return slug


def provision(database_url: str, slug: str | None = None, status: str = "active", **kw) -> str:
    """Provision one tenant through app.tenancy.provision; returns its slug."""
    return run(provision_async(database_url, slug, status, **kw))


async def make_user_async(
    database_url: str,
    slug: str,
    role: str = "operator",
    password: str = BENCH_PASSWORD,
    opd_code: str | None = None,
) -> str:
    from sqlalchemy import select

    from app.auth.models import User
    from app.auth.passwords import hash_password
    from app.config import get_settings
    from app.db.database import Database
    from app.db.engine import make_async_engine
    from app.dispatch.models import Opd

    engine = make_async_engine(get_settings(), url=database_url, pool_size=2, max_overflow=0)
    db = Database(engine)
    email = f"{role}-{uuid.uuid4().hex[:8]}@{slug.replace('_', '-')}.bench.id"
    try:
        async with db.tenant(slug) as s:
            opd_id = None
            if role == "opd_staff":
                opd_id = (
                    await s.execute(select(Opd.id).where(Opd.code == (opd_code or "damkar")))
                ).scalar_one()
            s.add(
                User(
                    email=email,
                    full_name=f"{role.title()} Bench",
                    role=role,
                    opd_id=opd_id,
                    password_hash=hash_password(password),
                    is_active=True,
                    session_version=1,
                )
            )
            await s.commit()
    finally:
        await engine.dispose()
    return email


def make_user(database_url: str, slug: str, role: str = "operator", **kw) -> str:
    """Create a tenant user (password BENCH_PASSWORD); returns the e-mail to log in with."""
    return run(make_user_async(database_url, slug, role, **kw))


# ---------------------------------------------------------------- the raw PostgreSQL ceiling


async def closed_loop(
    send, resources: list, *, seconds: float | None = None, total: int | None = None
) -> dict:
    """A closed loop: one worker per item of ``resources`` (its own connection, or one shared client
    repeated), each awaiting ``send(resource, i)`` for the next number ``i`` as soon as its last one
    is answered, until ``total`` numbers are used or ``seconds`` have passed. ``send`` returns True on
    success. Returns the latencies (s) of the successes, the failures and the elapsed seconds."""
    import itertools

    if (seconds is None) == (total is None):
        raise ValueError("give seconds or total")
    latencies: list[float] = []
    failed = 0
    numbers = itertools.count() if total is None else iter(range(total))
    deadline = time.perf_counter() + seconds if seconds is not None else float("inf")

    async def worker(resource) -> None:
        nonlocal failed
        for i in numbers:
            if time.perf_counter() >= deadline:
                return
            t0 = time.perf_counter()
            if await send(resource, i):
                latencies.append(time.perf_counter() - t0)
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(r) for r in resources))
    return {"latencies": latencies, "failed": failed, "elapsed": time.perf_counter() - started}


async def raw_insert_loop(
    database_url: str,
    sql: str,
    params,
    concurrency: int,
    *,
    seconds: float | None = None,
    total: int | None = None,
    pooled: bool = False,
) -> dict:
    """What PostgreSQL itself allows at this concurrency: ``concurrency`` psycopg connections, each
    running ``sql`` with ``params(i)`` then COMMIT in a loop, for ``seconds`` or ``total`` statements
    in all. Returns count, rate (/s) and every latency (s). ``pooled``: through PgBouncer in
    transaction mode (no server-side prepared statements: they do not follow a transaction)."""
    import psycopg

    async def insert(conn, i: int) -> bool:
        await conn.execute(sql, params(i))
        await conn.commit()
        return True

    kw = {"prepare_threshold": None} if pooled else {}
    conns = [await psycopg.AsyncConnection.connect(database_url, **kw) for _ in range(concurrency)]
    try:
        r = await closed_loop(insert, conns, seconds=seconds, total=total)
    finally:
        for c in conns:
            await c.close()
    return {
        "count": len(r["latencies"]),
        "rate": len(r["latencies"]) / r["elapsed"],
        "latencies": r["latencies"],
    }


# ---------------------------------------------------------------- a cheap HTTP client


class RawHttp:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams, for load generators.

    httpx's pool spends O(waiting requests) per operation, so with hundreds queued it burns the
    load generator's CPU and the figures measure the client; this one costs a few µs a request.
    """

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader = self.writer = None

    async def post_json(self, path: str, body: bytes) -> int:
        return (await self.post(path, body))[0]

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST a JSON body; (status, response body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\n{self.head}{extra}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        content = await self.reader.readexactly(length)
        if close:
            await self.close()
        return int(status_line.split()[1]), content

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# ---------------------------------------------------------------- the server under test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving ``app.main:create_app`` in SEPARATE processes on a free loopback port.

    ``with Server(env, workers=2) as srv: srv.url`` — waits for /healthz, stops with SIGTERM
    (graceful) on exit, SIGKILL if it does not stop in time. Output goes to ``srv.log_path``
    (its tail is shown if the server fails to start).
    """

    def __init__(
        self,
        env: BenchEnv,
        workers: int = 2,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        startup_timeout_s: float = 60.0,
    ):
        self.env = env
        self.workers = workers
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.startup_timeout_s = startup_timeout_s
        self.procs: list[subprocess.Popen] = []
        self.log_path = Path(f"/tmp/siaga112-bench-server-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        """``workers`` uvicorn processes, each accepting on its OWN listening socket of the same port
        (SO_REUSEPORT, inherited by bench/uvicorn_on_socket.py): the kernel spreads new connections over them, as
        the load balancer spreads them over app processes in production (infra/terraform). One
        socket shared by ``uvicorn --workers`` goes to whichever process wakes first, which often
        takes every connection a load generator opens at once (seen: 16/0, 14/2)."""
        self._log = open(self.log_path, "wb")
        self.procs = []
        for _ in range(self.workers):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(2048)
            cmd = [sys.executable, str(ROOT / "bench" / "uvicorn_on_socket.py"), str(sock.fileno())]
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=ROOT,
                    env=self.env.env(**self.extra_env),
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(sock.fileno(),),
                )
            )
            sock.close()  # the child has its copy
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        last = ""
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            try:
                resp = httpx.get(self.url + "/healthz", timeout=2)
                if resp.status_code == 200:
                    return
                last = f"{resp.status_code} {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"server did not become healthy ({last}); log:\n{self.log_path.read_text()[-4000:]}"
        )

    def stop(self) -> None:
        if not self.procs:
            return
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._log.close()
        self.procs = []

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def login(base_url: str, slug: str, email: str, password: str = BENCH_PASSWORD) -> tuple[dict[str, str], str]:
    """Log in through the real login form; returns (cookies, csrf_token) for later requests."""
    import re

    import httpx

    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=10) as c:
        page = c.get(f"/t/{slug}/login", headers={"accept": "text/html"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if not token:
            raise RuntimeError(f"no CSRF token on the login page ({page.status_code})")
        resp = c.post(
            f"/t/{slug}/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
        )
        if resp.status_code != 303:
            raise RuntimeError(f"login failed: {resp.status_code} {resp.text[:300]}")
        return dict(c.cookies), token.group(1)


# ---------------------------------------------------------------- statistics and output


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of an unsorted list; nan for an empty list."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentiles(values: list[float]) -> dict[str, float]:
    """Interpolated p50/p95/p99 (same unit as the input)."""
    vs = sorted(values)
    if len(vs) < 2:
        return {"p50": vs[0], "p95": vs[0], "p99": vs[0]}
    q = statistics.quantiles(vs, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98]}


def summarize(latencies_s: list[float], prefix: str = "") -> dict[str, float]:
    """p50/p95/p99/max in milliseconds, rounded, keyed ``<prefix>p50_ms`` …"""
    return {
        f"{prefix}{name}_ms": round(percentile(latencies_s, p) * 1000, 2)
        for name, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), from /proc."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def machine() -> dict[str, str]:
    """What the figures were measured on (for docs/benchmarks.md)."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    pg = "?"
    try:
        import psycopg

        with psycopg.connect(BENCH_PG_URL) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "postgresql": pg,
        "os": platform.platform(),
    }


def emit(figures: dict) -> dict:
    """Print a benchmark's figures (one per line) plus one machine-readable line for run_all."""
    width = max((len(k) for k in figures), default=0)
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value}")
    print(RESULT_MARKER + json.dumps(figures, default=str), flush=True)
    return figures


def scratch_tenant_revision(dest, rev: str = "tbench01") -> Path:
    """A copy of migrations/tenant plus one metadata-only revision on top of the current head.

    For benches and the scale test only (``migrate_tenants(..., script_location=dest)``); it is
    never written into migrations/. Adding a nullable column without a default and a comment
    touch only the catalog, like most real additive changes.
    """
    import shutil
    from pathlib import Path

    from app.config import PROJECT_ROOT
    from app.db.migrate import head_revision

    dest = Path(dest) / "tenant"
    shutil.copytree(
        PROJECT_ROOT / "migrations" / "tenant", dest, ignore=shutil.ignore_patterns("__pycache__")
    )
    (dest / "versions" / f"{rev}_bench.py").write_text(f'''"""bench: metadata-only change"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = "{head_revision("tenant")}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("bench_note", sa.Text(), nullable=True))
    op.execute("COMMENT ON COLUMN calls.bench_note IS 'bench revision'")


def downgrade() -> None:
    op.drop_column("calls", "bench_note")
''')
    return dest


class BackendMemory:
    """Samples the private memory (RssAnon) of this database's server backends, in a thread.

    A backend caches the catalog of every schema it touched until it exits; this shows whether
    connection recycling keeps that bounded. ``peak_mb`` covers backends that STARTED during the
    measurement (e.g. fleet workers); ``preexisting_peak_mb`` the ones already open before.
    Needs the server on this machine (reads /proc).
    """

    def __init__(self, url: str, interval: float = 0.2):
        import threading

        self.url, self.interval = url, interval
        self.peaks: dict[int, float] = {}
        self.preexisting: set[int] = set()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def peak_mb(self) -> float:
        return max((v for pid, v in self.peaks.items() if pid not in self.preexisting), default=0.0)

    @property
    def preexisting_peak_mb(self) -> float:
        return max((v for pid, v in self.peaks.items() if pid in self.preexisting), default=0.0)

    def _run(self) -> None:
        import psycopg

        dbname = self.url.rsplit("/", 1)[1]
        with psycopg.connect(
            self.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        ) as conn:
            first = True
            while not self._stop.is_set():
                pids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (dbname,),
                    )
                ]
                if first:
                    self.preexisting, first = set(pids), False
                    self._ready.set()
                for pid in pids:
                    try:
                        with open(f"/proc/{pid}/status") as fh:
                            for line in fh:
                                if line.startswith("RssAnon:"):
                                    mb = int(line.split()[1]) / 1024
                                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)
                    except OSError:
                        pass
                self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- what stalls a server (BENCH_PROBE)

PROBE_MARKER = "BENCH_PROBE "


def server_probes(server: Server) -> list[dict]:
    """The BENCH_PROBE lines the server's processes printed when they stopped (one per process;
    start the Server with ``extra_env={"BENCH_PROBE": "1"}``, read after it stopped)."""
    out = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith(PROBE_MARKER):
            out.append(json.loads(line[len(PROBE_MARKER) :]))
    return out


def stalls_during(probes: list[dict], windows: list[tuple[float, float]]) -> dict:
    """Garbage-collector passes and event-loop lags that fell inside the given wall-clock windows
    (e.g. the paced runs), and the pool high-water mark: the candidate causes of a slow request."""

    def inside(t: float) -> bool:
        return any(a <= t <= b for a, b in windows)

    gcs = [g for p in probes for g in p["gc"] if inside(g[0])]
    lags = [g for p in probes for g in p["lag"] if inside(g[0])]
    return {
        "gc_passes_over_2ms": len(gcs),
        "gc_max_pause_ms": max((g[1] for g in gcs), default=0.0),
        # which generation each of those passes collected (2 = a full pass)
        "gc_generations": " ".join(str(g[2]) for g in sorted(gcs)) or "-",
        "loop_lags_over_10ms": len(lags),
        "loop_max_lag_ms": max((g[1] for g in lags), default=0.0),
        "pool_max_checked_out": max((p["pool_max"] for p in probes), default=0),
        "pool_capacity": max((p["pool_capacity"] for p in probes), default=0),
    }


# ---------------------------------------------------------------- PgBouncer (transaction pooling)


class PgBouncer:
    """Debian's ``pgbouncer`` in transaction pooling mode on a free loopback port, in front of the
    bench's PostgreSQL (trust auth, as the local server). ``with PgBouncer() as pgb:
    pgb.url(database_url)`` is the same database through the pooler; None if pgbouncer is not
    installed (``available()``)."""

    def __init__(self, pool_size: int = 20):
        import tempfile

        self.port = free_port()
        self.pool_size = pool_size
        self.dir = Path(tempfile.mkdtemp(prefix="siaga112-pgbouncer-"))
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        import shutil

        return any(shutil.which(p) for p in ("pgbouncer", "/usr/sbin/pgbouncer"))

    def url(self, database_url: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        u = urlsplit(database_url)
        user = u.username or "postgres"
        return urlunsplit((u.scheme, f"{user}@127.0.0.1:{self.port}", u.path, u.query, ""))

    def __enter__(self) -> PgBouncer:
        import shutil
        from urllib.parse import urlsplit

        target = urlsplit(BENCH_PG_URL)
        user = target.username or "postgres"
        (self.dir / "users.txt").write_text(f'"{user}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={target.hostname or '127.0.0.1'} port={target.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir = {self.dir}\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmax_client_conn = 2000\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
        )
        exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        cmd = [exe, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root: it drops to the postgres user
            import pwd

            pw = pwd.getpwnam("postgres")
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            cmd[1:1] = ["-u", "postgres"]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(
            f"pgbouncer did not start; log: {(self.dir / 'pgbouncer.log').read_text()[-2000:]}"
        )

    def __exit__(self, *exc) -> None:
        import shutil

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_background_counters(database_url: str) -> dict[str, int]:
    """PostgreSQL's own work that can delay commits: checkpoints (an fsync of every dirty page) and
    autovacuum/autoanalyze passes in this database. Take it before and after a phase."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        ckpt = conn.execute("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter").fetchone()[0]
        vac = conn.execute(
            "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"
        ).fetchone()[0]
    return {"checkpoints": int(ckpt), "autovacuums": int(vac)}
