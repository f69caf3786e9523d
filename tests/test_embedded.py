"""The embedded default really starts a pip-installed PostgreSQL and Redis, and stops them."""

from __future__ import annotations

import psycopg
import pytest
import redis

from app.embedded import DataDirLock, EmbeddedError, EmbeddedPostgres, EmbeddedRedis


@pytest.fixture
def data_root():
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="siaga112-embedded-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_embedded_postgres_and_redis_start_persist_and_stop(data_root):
    pg = EmbeddedPostgres(data_root)
    pg.start()
    try:
        url = pg.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kept (v int)")
            conn.execute("INSERT INTO kept VALUES (112)")
        assert (data_root / "pg.password").stat().st_mode & 0o777 == 0o600
    finally:
        pg.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    pg2 = EmbeddedPostgres(data_root)
    pg2.start()
    try:
        with psycopg.connect(pg2.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == (112,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://siaga112:wrong@127.0.0.1:{pg2.port}/siaga112", connect_timeout=2)
    finally:
        pg2.stop()

    rds = EmbeddedRedis(data_root)
    rds.start()
    try:
        r = redis.Redis.from_url(rds.url)
        assert r.ping()
        r.set("kept", "112")
        anonymous = redis.Redis(host="127.0.0.1", port=rds.port)
        with pytest.raises(redis.exceptions.NoPermissionError):
            anonymous.get("kept")
        anonymous.close()
        r.close()
    finally:
        rds.stop()


def test_second_serve_on_same_folder_is_refused(data_root):
    first = DataDirLock(data_root)
    first.acquire()
    try:
        with pytest.raises(EmbeddedError, match="another siaga112 serve"):
            DataDirLock(data_root).acquire()
    finally:
        first.release()
