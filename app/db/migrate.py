"""Running Alembic for the public schema and for every tenant schema.

Deploys take one PostgreSQL advisory lock so two can't race. "Is anything pending?" is a single
query over every tenant's ``alembic_version`` (not one Alembic run per tenant), so a deploy with
nothing to do returns at once. Tenants migrate in parallel threads, one transaction each with a
``lock_timeout``; a failed tenant is reported and the rest go on, and a rerun resumes because
finished tenants are simply no longer pending.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from app.config import PROJECT_ROOT
from app.db.engine import make_sync_engine
from app.db.tenancy import SCHEMA_PREFIX, schema_for, slug_for_schema

DEPLOY_LOCK_KEY = 112_112_001  # pg_advisory_lock key shared by every deploy
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def alembic_config(scope: str, script_location: Path | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI), ini_section=scope)
    if script_location is not None:
        cfg.set_main_option("script_location", str(script_location))
    return cfg


@lru_cache
def _script(scope: str, script_location: str | None = None) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(scope, Path(script_location) if script_location else None))


def head_revision(scope: str, script_location: Path | None = None) -> str:
    heads = _script(scope, str(script_location) if script_location else None).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"{scope} branch must have exactly one head, found {heads}")
    return heads[0]


def upgrade_public(conn: Connection) -> None:
    cfg = alembic_config("public")
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


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
    command.upgrade(cfg, target)


def downgrade_tenant(conn: Connection, slug: str, target: str) -> None:
    cfg = alembic_config("tenant")
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema_for(slug)
    command.downgrade(cfg, target)


def tenant_schemas(conn: Connection) -> list[str]:
    rows = conn.execute(
        text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p ORDER BY nspname"),
        {"p": SCHEMA_PREFIX.replace("_", r"\_") + "%"},
    )
    return [r[0] for r in rows]


def tenant_versions(conn: Connection) -> dict[str, str | None]:
    """Every tenant schema's Alembic revision, in one round trip (None: no version table)."""
    rows = conn.execute(
        text(
            """
            SELECT n.nspname, c.oid IS NOT NULL
            FROM pg_namespace n
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'alembic_version'
            WHERE n.nspname LIKE :p
            """
        ),
        {"p": SCHEMA_PREFIX.replace("_", r"\_") + "%"},
    ).all()
    versions: dict[str, str | None] = {schema: None for schema, _ in rows}
    with_table = [schema for schema, has in rows if has]
    if with_table:
        q = conn.dialect.identifier_preparer.quote
        union = " UNION ALL ".join(
            f"SELECT '{s}' AS s, version_num FROM {q(s)}.alembic_version" for s in with_table
        )
        for schema, version in conn.execute(text(union)):
            versions[schema] = version
    return versions


def pending_tenants(conn: Connection, head: str | None = None) -> list[str]:
    head = head or head_revision("tenant")
    return sorted(slug_for_schema(s) for s, v in tenant_versions(conn).items() if v != head)


@dataclass
class FleetResult:
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Worker(threading.local):
    conn: Connection | None = None
    used: int = 0


def migrate_tenants(
    engine: Engine,
    slugs: Iterable[str],
    workers: int = 4,
    recycle_every: int = 40,
    lock_timeout: str = "5s",
    on_progress: Callable[[str, str, str | None], None] | None = None,
    script_location: Path | None = None,
) -> FleetResult:
    """Migrate the given tenants, ``workers`` at a time, one transaction per tenant."""
    result = FleetResult()
    local = _Worker()
    started = time.perf_counter()
    all_conns: list[Connection] = []
    guard = threading.Lock()

    def connection() -> Connection:
        if local.conn is not None and local.used >= recycle_every:
            # A connection that touched many schemas keeps their catalog entries; start afresh.
            local.conn.close()
            local.conn = None
        if local.conn is None:
            local.conn = engine.connect()
            local.used = 0
            with guard:
                all_conns.append(local.conn)
        local.used += 1
        return local.conn

    def one(slug: str) -> tuple[str, str, str | None]:
        conn = connection()
        try:
            with conn.begin():
                upgrade_tenant(conn, slug, lock_timeout=lock_timeout, script_location=script_location)
            return slug, "ok", None
        except Exception as exc:  # reported per tenant; the fleet goes on
            return slug, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(one, s) for s in slugs]
            for fut in as_completed(futures):
                slug, status, error = fut.result()
                if status == "ok":
                    result.ok.append(slug)
                else:
                    result.failed[slug] = error or ""
                if on_progress:
                    on_progress(slug, status, error)
    finally:
        for c in all_conns:
            try:
                c.close()
            except Exception:
                pass
    result.seconds = time.perf_counter() - started
    return result


def deploy(
    url: str,
    workers: int = 4,
    on_progress: Callable[[str, str, str | None], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    lock_wait_s: float = 600.0,
) -> FleetResult:
    """Migrate public, then every pending tenant, under the deploy advisory lock."""
    engine = make_sync_engine(url, pool_size=workers + 1, max_overflow=0)
    try:
        with engine.connect() as lock_conn:
            deadline = time.monotonic() + lock_wait_s
            while not lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": DEPLOY_LOCK_KEY}).scalar():
                lock_conn.rollback()
                if time.monotonic() > deadline:
                    raise RuntimeError("another deploy holds the migration lock")
                time.sleep(0.5)
            lock_conn.commit()
            try:
                with engine.connect() as conn:
                    with conn.begin():
                        upgrade_public(conn)
                    all_schemas = tenant_schemas(conn)
                    pending = pending_tenants(conn)
                    conn.rollback()
                if on_plan:
                    on_plan(len(all_schemas), len(pending))
                result = migrate_tenants(engine, pending, workers=workers, on_progress=on_progress)
                result.skipped = sorted(set(slug_for_schema(s) for s in all_schemas) - set(pending))
                return result
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": DEPLOY_LOCK_KEY})
                lock_conn.commit()
    finally:
        engine.dispose()
