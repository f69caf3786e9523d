"""Running Alembic for the public schema and for every tenant schema.

Deploys take one PostgreSQL advisory lock so two can't race. "Is anything pending?" is a single
query over every tenant's ``alembic_version`` (not one Alembic run per tenant), so a deploy with
nothing to do returns at once. Tenants migrate in parallel worker processes, one transaction each with a
``lock_timeout``; a failed tenant is reported and the rest go on, and a rerun resumes because
finished tenants are simply no longer pending.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from app.config import PROJECT_ROOT
from app.db.alembic_env import target_metadata
from app.db.engine import make_sync_engine
from app.db.tenancy import schema_for, slug_for_schema, tenant_schemas_with_version_table

DEPLOY_LOCK_KEY = 112_112_001  # pg_advisory_lock key shared by every deploy
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def alembic_config(scope: str, script_location: Path | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI), ini_section=scope)
    if script_location is not None:
        cfg.set_main_option("script_location", str(script_location))
    return cfg


@lru_cache
def _script(scope: str, script_location: str | None = None) -> ScriptDirectory:
    return ScriptDirectory.from_config(
        alembic_config(scope, Path(script_location) if script_location else None)
    )


def head_revision(scope: str, script_location: Path | None = None) -> str:
    heads = _script(scope, str(script_location) if script_location else None).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"{scope} branch must have exactly one head, found {heads}")
    return heads[0]


def _upgrade(cfg: Config, scope: str, target: str, script_location: Path | None) -> None:
    """``alembic upgrade`` with the revision files parsed once per process, not once per tenant."""
    script = _script(scope, str(script_location) if script_location else None)

    def upgrade(rev, context):
        return script._upgrade_revs(target, rev)

    with EnvironmentContext(
        cfg, script, fn=upgrade, as_sql=False, starting_rev=None, destination_rev=target, tag=None
    ):
        script.run_env()


def public_version(conn: Connection) -> str | None:
    if conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar() is None:
        return None
    return conn.execute(text("SELECT version_num FROM public.alembic_version")).scalar()


def upgrade_public(conn: Connection) -> None:
    cfg = alembic_config("public")
    cfg.attributes["connection"] = conn
    _upgrade(cfg, "public", "head", None)


def upgrade_tenant(
    conn: Connection,
    slug: str,
    target: str = "head",
    lock_timeout: str = "5s",
    script_location: Path | None = None,
) -> None:
    """Migrate one tenant inside the caller's transaction (the caller commits)."""
    cfg = alembic_config("tenant", script_location)
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema_for(slug)
    conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": lock_timeout})
    _upgrade(cfg, "tenant", target, script_location)


def downgrade_tenant(conn: Connection, slug: str, target: str) -> None:
    cfg = alembic_config("tenant")
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema_for(slug)
    command.downgrade(cfg, target)


def tenant_versions(conn: Connection) -> dict[str, str | None]:
    """Every tenant schema's Alembic revision in two round trips, however many tenants exist.

    The UNION ALL is sent with ``exec_driver_sql``: its text changes with the tenant list, and
    it must not add an entry to the engine's compiled-statement cache every time it does.
    """
    rows = tenant_schemas_with_version_table(conn)
    versions: dict[str, str | None] = {schema: None for schema, _ in rows}
    with_table = [schema for schema, has in rows if has]
    if with_table:
        q = conn.dialect.identifier_preparer.quote
        union = " UNION ALL ".join(
            f"SELECT '{s}', version_num FROM {q(s)}.alembic_version" for s in with_table
        )
        for schema, version in conn.exec_driver_sql(union):
            versions[schema] = version
    return versions


def pending_tenants(
    conn: Connection, head: str | None = None, script_location: Path | None = None
) -> list[str]:
    """Slugs of tenant schemas not at ``head``: one catalog query, not one Alembic run each."""
    head = head or head_revision("tenant", script_location)
    return sorted(slug_for_schema(s) for s, v in tenant_versions(conn).items() if v != head)


@dataclass
class FleetResult:
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    connections: int = 0  # connections opened (workers recycle theirs every ``recycle_every``)


class _Runner:
    """One worker's connection, closed and reopened every ``recycle_every`` tenants.

    A server backend keeps the catalog entries of every schema it touched (~0.8 MB each) until
    it exits, so recycling keeps server memory flat whatever the fleet size.
    """

    def __init__(self, engine: Engine, recycle_every: int):
        self.engine, self.recycle_every = engine, recycle_every
        self.conn: Connection | None = None
        self.used = 0

    def migrate(
        self, slug: str, target: str, lock_timeout: str, script_location: Path | None
    ) -> tuple[str, str, str | None, bool]:
        """(slug, "ok"|"failed", error, opened a new connection)."""
        opened = False
        try:
            if self.conn is not None and (self.used >= self.recycle_every or self.conn.invalidated):
                self.close()
            if self.conn is None:
                self.conn, self.used, opened = self.engine.connect(), 0, True
            self.used += 1
            with self.conn.begin():
                upgrade_tenant(
                    self.conn, slug, target=target, lock_timeout=lock_timeout, script_location=script_location
                )
            return slug, "ok", None, opened
        except Exception as exc:  # reported per tenant; the fleet goes on
            return slug, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}", opened

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


_process_runner: _Runner | None = None  # one per worker process


def _worker_init(url: str, recycle_every: int, inherited: Engine | None = None) -> None:
    from sqlalchemy.pool import NullPool

    global _process_runner
    if inherited is not None:
        # Forked: leave the parent's pooled connections alone (psycopg won't close them either).
        inherited.dispose(close=False)
    _process_runner = _Runner(make_sync_engine(url, poolclass=NullPool), recycle_every)


def _worker_migrate(slug: str, target: str, lock_timeout: str, script_location: Path | None):
    assert _process_runner is not None
    return _process_runner.migrate(slug, target, lock_timeout, script_location)


def migrate_tenants(
    engine: Engine,
    slugs: Iterable[str],
    workers: int = 4,
    recycle_every: int = 40,
    lock_timeout: str = "5s",
    on_progress: Callable[[str, str, str | None], None] | None = None,
    script_location: Path | None = None,
    target: str = "head",
) -> FleetResult:
    """Migrate the given tenants, ``workers`` at a time, one transaction per tenant.

    Tenants already at the target are reported as skipped without running Alembic, so a rerun
    after a crash or a failed tenant resumes where the last run stopped. Workers are PROCESSES:
    Alembic's ``op``/``context`` are process-global proxies, so two threads running migrations
    at once would execute each other's operations (and the GIL would serialise them anyway).
    """
    result = FleetResult()
    started = time.perf_counter()
    slugs = list(slugs)
    head = head_revision("tenant", script_location) if target == "head" else target
    target_metadata("tenant")  # built once here, inherited by forked workers
    with engine.connect() as conn:
        pending = set(pending_tenants(conn, head))
    todo = [s for s in slugs if s in pending]
    for slug in slugs:
        if slug not in pending:
            result.skipped.append(slug)
            if on_progress:
                on_progress(slug, "skipped", None)

    def record(outcome: tuple[str, str, str | None, bool]) -> None:
        slug, status, error, opened = outcome
        result.connections += opened
        if status == "ok":
            result.ok.append(slug)
        else:
            result.failed[slug] = error or ""
        if on_progress:
            on_progress(slug, status, error)

    if workers <= 1 or len(todo) <= 1:
        runner = _Runner(engine, recycle_every)
        try:
            for slug in todo:
                record(runner.migrate(slug, target, lock_timeout, script_location))
        finally:
            runner.close()
    elif todo:
        url = engine.url.render_as_string(hide_password=False)
        # fork: workers start in milliseconds with everything imported and the revisions parsed
        # (spawn re-imports the app in each worker: ~4 s each on a busy 2-core machine).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=multiprocessing.get_context(method),
            initializer=_worker_init,
            initargs=(url, recycle_every, engine if method == "fork" else None),
        ) as pool:
            futures = {
                pool.submit(_worker_migrate, s, target, lock_timeout, script_location): s for s in todo
            }
            for fut in as_completed(futures):
                try:
                    record(fut.result())
                except Exception as exc:  # a worker process died: its tenant is not migrated
                    record((futures[fut], "failed", f"{type(exc).__name__}: {exc}", False))
    result.seconds = time.perf_counter() - started
    return result


def deploy(
    url: str,
    workers: int = 4,
    on_progress: Callable[[str, str, str | None], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    lock_wait_s: float = 600.0,
    script_location: Path | None = None,
) -> FleetResult:
    """Migrate public, then every pending tenant, under the deploy advisory lock.

    With nothing pending this is three catalog queries and no Alembic run at all.
    """
    started = time.perf_counter()
    engine = make_sync_engine(url, pool_size=workers + 1, max_overflow=0)
    try:
        with engine.connect() as lock_conn:
            deadline = time.monotonic() + lock_wait_s
            while not lock_conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": DEPLOY_LOCK_KEY}
            ).scalar():
                lock_conn.rollback()
                if time.monotonic() > deadline:
                    raise RuntimeError("another deploy holds the migration lock")
                time.sleep(0.5)
            lock_conn.commit()
            try:
                with engine.connect() as conn:
                    if public_version(conn) != head_revision("public"):
                        conn.rollback()
                        with conn.begin():
                            upgrade_public(conn)
                    versions = tenant_versions(conn)
                    conn.rollback()
                head = head_revision("tenant", script_location)
                pending = sorted(slug_for_schema(s) for s, v in versions.items() if v != head)
                if on_plan:
                    on_plan(len(versions), len(pending))
                if not pending:
                    result = FleetResult()
                else:
                    result = migrate_tenants(
                        engine,
                        pending,
                        workers=workers,
                        on_progress=on_progress,
                        script_location=script_location,
                    )
                result.skipped = sorted(
                    set(result.skipped) | (set(slug_for_schema(s) for s in versions) - set(pending))
                )
                result.seconds = time.perf_counter() - started
                return result
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": DEPLOY_LOCK_KEY})
                lock_conn.commit()
    finally:
        engine.dispose()
