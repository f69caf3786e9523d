"""The ``siaga112`` command: serve, worker, db upgrade/pending, tenants, demo."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.config import get_settings

cli = typer.Typer(help="Siaga112 — platform pusat panggilan darurat 112", no_args_is_help=True)
db_cli = typer.Typer(help="Database migrations for public and every tenant schema", no_args_is_help=True)
tenants_cli = typer.Typer(help="Tenants (kabupaten/kota)", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(tenants_cli, name="tenants")
national_cli = typer.Typer(help="National rollups for the Kominfo dashboard", no_args_is_help=True)
cli.add_typer(national_cli, name="national")
reputation_cli = typer.Typer(
    help="National caller reputation (keyed hashes, docs/reputation.md)", no_args_is_help=True
)
cli.add_typer(reputation_cli, name="reputation")
console = Console()


def _database_url() -> str:
    url = get_settings().database_url
    if not url:
        console.print(
            "[red]DATABASE_URL is not set[/red] (only `siaga112 serve` starts the embedded database)"
        )
        raise typer.Exit(2)
    return url


def _on_database(work, **engine_kw):
    """``asyncio.run(work(db))`` on an engine of its own, disposed afterwards (one-shot commands)."""

    async def go():
        from app.db.database import Database
        from app.db.engine import make_async_engine

        engine = make_async_engine(get_settings(), **engine_kw)
        try:
            return await work(Database(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def run_deploy(url: str, workers: int = 4, report: Path | None = None) -> bool:
    """Migrate public and every pending tenant with a progress bar; True if nothing failed.

    ``report`` gets one JSON object per tenant: {"slug", "status": ok|failed|skipped, "error"}.
    """
    from app.db.migrate import deploy

    progress = Progress(
        TextColumn("[bold]tenant schemas"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task: dict[str, TaskID | None] = {"id": None}

    def on_plan(total: int, pending: int) -> None:
        if pending:
            progress.start()
            task["id"] = progress.add_task("migrate", total=pending)
        console.print(f"public: up to date · tenants: {total} schemas, {pending} pending")

    def on_progress(slug: str, status: str, error: str | None) -> None:
        if task["id"] is not None:
            progress.advance(task["id"])
        if error:
            progress.console.print(f"[red]failed[/red] {slug}: {error}")

    try:
        result = deploy(url, workers=workers, on_plan=on_plan, on_progress=on_progress)
    finally:
        progress.stop()
    console.print(
        f"ok {len(result.ok)} · failed {len(result.failed)} · skipped (up to date) {len(result.skipped)}"
        f" · {result.seconds:.2f}s"
    )
    if result.failed:
        console.print(
            "failed tenants stay at their old revision; fix and rerun `siaga112 db upgrade` to resume"
        )
    if report is not None:
        import json

        rows = (
            [{"slug": s, "status": "ok", "error": None} for s in sorted(result.ok)]
            + [{"slug": s, "status": "failed", "error": e} for s, e in sorted(result.failed.items())]
            + [{"slug": s, "status": "skipped", "error": None} for s in result.skipped]
        )
        report.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return not result.failed


@db_cli.command("upgrade")
def db_upgrade(
    workers: int = typer.Option(4, help="tenant schemas migrated in parallel"),
    report: Path = typer.Option(None, help="write a per-tenant JSON report (ok / failed+error / skipped)"),
):
    """Migrate public, then every tenant schema that is behind, under an advisory lock."""
    # A session advisory lock guards the deploy: it needs a direct connection, not PgBouncer.
    ok = run_deploy(get_settings().migrate_database_url or _database_url(), workers, report)
    raise typer.Exit(0 if ok else 1)


@db_cli.command("pending")
def db_pending():
    """List tenant schemas that are not at the head revision (one query for all of them)."""
    import time

    from app.db.engine import make_sync_engine
    from app.db.migrate import head_revision, pending_tenants

    started = time.perf_counter()
    engine = make_sync_engine(_database_url())
    with engine.connect() as conn:
        pending = pending_tenants(conn)
    engine.dispose()
    console.print(
        f"head {head_revision('tenant')}: {len(pending)} pending ({time.perf_counter() - started:.2f}s)"
    )
    for slug in pending:
        console.print(f"  {slug}")
    raise typer.Exit(1 if pending else 0)


@db_cli.command("drift")
def db_drift(
    tenant: list[str] = typer.Option(None, "--tenant", "-t", help="check only these slugs (default: all)"),
    limit: int = typer.Option(20, help="lines shown per drifted tenant"),
):
    """Compare every tenant schema's catalog with the models; exit 1 if any tenant drifted."""
    import time

    from app.db.catalog import tenant_drift
    from app.db.engine import make_sync_engine

    started = time.perf_counter()
    engine = make_sync_engine(_database_url())
    try:
        with engine.connect() as conn:
            drift = tenant_drift(conn, tenant or None)
    finally:
        engine.dispose()
    drifted = {slug: lines for slug, lines in drift.items() if lines}
    for slug, lines in sorted(drifted.items()):
        console.print(f"[red]drift[/red] {slug}: {len(lines)} difference(s)")
        for line in lines[:limit]:
            console.print(f"    {line}", markup=False, highlight=False)
        if len(lines) > limit:
            console.print(f"    … {len(lines) - limit} more")
    console.print(
        f"{len(drift)} tenant schemas checked · {len(drifted)} drifted · {time.perf_counter() - started:.2f}s"
    )
    raise typer.Exit(1 if drifted else 0)


@tenants_cli.command("create")
def tenants_create(
    region_code: str = typer.Argument(..., help="Kemendagri code, e.g. 13.72"),
    status: str = typer.Option("pending"),
):
    """Provision a regency from the official list by its Kemendagri code."""
    from app.tenancy.provision import NewTenant, provision_tenant
    from app.tenancy.regions import regency

    reg = regency(region_code)
    if reg is None:
        console.print(f"[red]unknown region code {region_code}[/red]")
        raise typer.Exit(2)

    _on_database(
        lambda db: provision_tenant(
            db.engine, NewTenant(reg.slug, reg.short_name, reg.code, reg.province, reg.timezone, status)
        )
    )
    console.print(f"created {reg.short_name} as /t/{reg.slug}")


@tenants_cli.command("apply")
def tenants_apply(
    paths: list[Path] = typer.Argument(..., help="manifest files, e.g. tenants/kota_solok.toml"),
):
    """Apply regency manifests idempotently (create the tenant if missing, update OPDs/categories by code)."""
    from app.tenancy.manifest import ManifestError, apply, load

    try:
        manifests = [load(p) for p in paths]
    except ManifestError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def apply_all(db):
        return [await apply(db, m) for m in manifests]

    _database_url()
    for result in _on_database(apply_all):
        head = "created" if result.created_tenant else "updated" if result.changes else "unchanged"
        console.print(f"[bold]{result.slug}[/bold]: {head}")
        for change in result.changes:
            console.print(f"  {change}")


@tenants_cli.command("list")
def tenants_list():
    from sqlalchemy import text

    from app.db.engine import make_sync_engine

    engine = make_sync_engine(_database_url())
    table = Table("slug", "name", "code", "province", "status", "tz")
    with engine.connect() as conn:
        for row in conn.execute(
            text(
                "SELECT slug, name, region_code, province, status, timezone FROM public.tenants ORDER BY region_code"
            )
        ):
            table.add_row(*[str(v) for v in row])
    engine.dispose()
    console.print(table)


@cli.command("demo")
def demo():
    """Create the six demo regencies with staff accounts (idempotent)."""
    _print_accounts(_seed_demo())


def _seed_demo():
    from app.tenancy.demo import seed_demo

    return _on_database(seed_demo)


def _print_accounts(accounts) -> None:
    from app.tenancy.demo import DEMO_PASSWORD

    title = f"Demo accounts (password: {DEMO_PASSWORD})"
    if not console.is_terminal:
        # Piped or logged: one account per line, nothing wrapped, so each line can be copied.
        lines = [title, *(f"{a.email}\t{a.role}\t{a.where}\t{a.url}" for a in accounts)]
        console.file.write("\n".join(lines) + "\n")  # raw: rich would expand the tabs
        return
    table = Table(title=title)
    for col in ("where", "email", "role", "login page"):
        table.add_column(col, overflow="fold")
    for a in accounts:
        table.add_row(a.where, a.email, a.role, a.url)
    console.print(table)


@national_cli.command("rebuild")
def national_rebuild(
    tenant: list[str] = typer.Option(None, "--tenant", help="slug (repeatable); default: every tenant"),
    workers: int = typer.Option(4, help="tenants recounted in parallel"),
):
    """Recount the national rollups from each tenant's own tables (replaces its rows atomically)."""
    from app.national.rollup import rebuild_all

    _database_url()
    result = _on_database(
        lambda db: rebuild_all(db, tenant or None, workers), pool_size=workers, max_overflow=0
    )
    for slug, error in result.failed.items():
        console.print(f"[red]failed[/red] {slug}: {error}")
    console.print(
        f"rebuilt {len(result.ok)} tenants ({result.rows} day rows) · failed {len(result.failed)}"
        f" · {result.seconds:.2f}s"
    )
    raise typer.Exit(1 if result.failed else 0)


@reputation_cli.command("rebuild")
def reputation_rebuild(
    tenant: list[str] = typer.Option(None, "--tenant", help="slug (repeatable); default: every tenant"),
):
    """Re-hash every regency's rows under the current key from its own calls (key rotation, step 2)."""
    from app.national.rollup import tenant_slugs
    from app.reputation.keys import current
    from app.reputation.rebuild import rebuild_tenant

    _database_url()

    async def run(db):
        done = {}
        for slug in tenant or await tenant_slugs(db):
            done[slug] = await rebuild_tenant(db, slug)
        return done

    done = _on_database(run, pool_size=2, max_overflow=0)
    console.print(f"key {current().id}: rebuilt {len(done)} tenants ({sum(done.values())} groups)")


@reputation_cli.command("purge")
def reputation_purge():
    """Delete reputation rows older than REPUTATION_RETENTION_DAYS now (the worker does it daily)."""
    from app.reputation.service import purge_expired

    _database_url()

    async def run(db):
        async with db.public() as session:
            return await purge_expired(session)

    console.print(f"deleted {_on_database(run, pool_size=1, max_overflow=0)} rows")


@cli.command("simulate")
def simulate(
    slug: str = typer.Argument(..., help="tenant slug, e.g. kota_solok"),
    url: str = typer.Option("http://127.0.0.1:8112", help="base URL of a running Siaga112"),
    secret: str = typer.Option(None, help="webhook secret (default: read/create it via DATABASE_URL)"),
    seed: int = typer.Option(112, help="same seed, same day"),
    calls: int = typer.Option(20, help="ordinary calls per day (Kota Solok: about 20)"),
    flood: bool = typer.Option(False, "--flood/--no-flood", help="add a flood-day spike (hundreds an hour)"),
    prank_ratio: float = typer.Option(0.8, min=0.0, max=1.0, help="share of prank/silent calls"),
    speed: float = typer.Option(
        60.0, min=0.0, help="1 = live, 60 = an hour a minute, 0 = as fast as possible"
    ),
    concurrency: int = typer.Option(16, min=1, max=512),
):
    """Replay a realistic day of 112 calls through the signed telephony webhook (app/telephony/simulator.py)."""
    from app.telephony import service as telephony
    from app.telephony import simulator

    scenario = simulator.build_day(seed=seed, calls=calls, flood=flood, prank_ratio=prank_ratio)
    if secret is None:
        secret = asyncio.run(telephony.tenant_secret(_database_url(), slug))
    console.print(
        f"{scenario.calls} calls, {len(scenario.events)} events "
        f"({dict(scenario.kinds)}), span {scenario.span_s / 3600:.1f} h, speed {speed or 'max'}"
    )
    report = asyncio.run(simulator.replay(scenario, url, slug, secret, speed=speed, concurrency=concurrency))
    console.print(
        f"sent {report.sent} in {report.seconds:.1f}s · statuses {dict(report.statuses)} · "
        f"p50 {report.percentile(50):.1f} ms · p99 {report.percentile(99):.1f} ms"
    )
    for line in report.errors[:5]:
        console.print(f"[yellow]{line}[/yellow]")
    raise typer.Exit(0 if not report.errors else 1)


@cli.command("worker")
def worker():
    """Run the arq worker (SLA timers, rollups, webhooks)."""
    import logging.config

    from arq.logs import default_log_config

    from app.worker import run

    config = default_log_config(verbose=False)  # job and shutdown lines on stdout
    config["loggers"]["app"] = {"level": "INFO", "handlers": ["arq.standard"]}  # outage/recovery lines
    logging.config.dictConfig(config)
    run()


def web_server_options() -> dict:
    """uvicorn options of the production web process (tests serve the app with the same)."""
    return {
        # Longer than the load balancer's idle timeout (60 s), or it reuses a closed connection (502).
        "timeout_keep_alive": 75,
        # X-Forwarded-For/-Proto are honoured only from TRUSTED_PROXIES, by the app itself
        # (app.security.proxies); uvicorn's own handling would trust 127.0.0.1 or "*".
        "proxy_headers": False,
        "server_header": False,
        "log_level": os.environ.get("LOG_LEVEL", "info"),
    }


@cli.command("web")
def web(
    host: str = typer.Option(None, help="default HOST (0.0.0.0 in the container image)"),
    port: int = typer.Option(None, help="default PORT"),
    workers: int = typer.Option(1, envvar="WEB_CONCURRENCY", help="uvicorn worker processes"),
    graceful_s: float = typer.Option(
        None, envvar="GRACEFUL_SHUTDOWN_S", help="on SIGTERM, seconds in-flight requests get to finish (20)"
    ),
):
    """Production web process: the app only (no embedded servers, no migrations, no demo data).

    Deploy order: `siaga112 db upgrade` once, then roll out web and worker tasks; /readyz
    stays 503 until the public schema is at this code's head.
    """
    import uvicorn

    from app.web.draining import uvicorn_grace

    settings = get_settings()
    if not settings.database_url or not settings.redis_url:
        console.print(
            "[red]DATABASE_URL and REDIS_URL must be set[/red] (`siaga112 serve` is the all-in-one mode)"
        )
        raise typer.Exit(2)
    if graceful_s is not None:  # the app reads it too (app.core.draining), in every worker
        os.environ["GRACEFUL_SHUTDOWN_S"] = str(graceful_s)
        get_settings.cache_clear()
        settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        timeout_graceful_shutdown=uvicorn_grace(settings.graceful_shutdown_s),
        **web_server_options(),
    )


@cli.command("serve")
def serve(
    host: str = typer.Option(None, help="default 127.0.0.1 (HOST)"),
    port: int = typer.Option(None, help="default 8112 (PORT)"),
    with_worker: bool = typer.Option(True, "--worker/--no-worker"),
    with_demo: bool = typer.Option(True, "--demo/--no-demo"),
):
    """Run the whole platform. Without DATABASE_URL/REDIS_URL it starts embedded servers."""
    import uvicorn

    from app.embedded import DataDirLock, EmbeddedError, EmbeddedPostgres, EmbeddedRedis
    from app.supervise import Supervised
    from app.web.draining import uvicorn_grace

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    root = Path(settings.data_dir).resolve()
    lock, pg, rds, worker_proc = None, None, None, None
    # SIGTERM behaves like Ctrl-C so the embedded servers are always stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if not settings.database_url or not settings.redis_url:
            lock = DataDirLock(root)
            lock.acquire()
        if not settings.database_url:
            pg = EmbeddedPostgres(root)
            console.print(f"starting embedded PostgreSQL in {pg.pgdata} …")
            pg.start()
            os.environ["DATABASE_URL"] = pg.url
        if not settings.redis_url:
            rds = EmbeddedRedis(root)
            console.print("starting embedded Redis (valkey) …")
            rds.start()
            os.environ["REDIS_URL"] = rds.url
        get_settings.cache_clear()
        settings = get_settings()
        if not run_deploy(settings.database_url):
            raise typer.Exit(1)
        if with_demo and settings.environment != "production":
            _print_accounts(_seed_demo())
        if with_worker:  # supervised: restarted (with backoff) if it ever exits
            worker_proc = Supervised(
                [sys.executable, "-m", "app.cli", "worker"], env=os.environ.copy()
            ).start()
        console.print(
            f"[bold green]Siaga112 is up:[/bold green] http://{host}:{port}/  (Ctrl-C stops everything)"
        )
        from app.main import create_app

        # proxy_headers off: only TRUSTED_PROXIES may set the client address (app.security.proxies).
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            timeout_graceful_shutdown=uvicorn_grace(settings.graceful_shutdown_s),
            **web_server_options(),
        )
    except EmbeddedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        pass
    finally:
        if worker_proc is not None:
            worker_proc.stop(timeout_s=settings.graceful_shutdown_s)
        if rds is not None:
            rds.stop()
        if pg is not None:
            pg.stop()
        if lock is not None:
            lock.release()
        console.print("stopped")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
