"""A whole deployment on this machine that a test may break: its own PostgreSQL (initdb in a
temp dir, binaries from /usr/lib/postgresql/*/bin), its own Redis, a web process (uvicorn) and
an arq worker (``siaga112 worker``), each on free ports, each killable and restartable.
Used by tests/fault (marker ``fault``) and bench/fault_recovery.py."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def _wait_port(port: int, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up on port {port}") from None
            time.sleep(0.05)


class OwnPostgres:
    """initdb + pg_ctl as an unprivileged user (PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="siaga112-fault-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            (self.dir / "ctl.log").touch()
            os.chown(self.dir / "ctl.log", pw.pw_uid, pw.pw_gid)
        self._run(
            pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"
        )

    def _run(self, *argv: str) -> None:
        # Output to a file, never a pipe: the postmaster pg_ctl starts would inherit the pipe and
        # subprocess.run would wait for it to close (forever).
        with (self.dir / "ctl.log").open("a") as out:
            subprocess.run(argv, check=True, user=self.user, stdout=out, stderr=subprocess.STDOUT)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(
            pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"
        )
        _wait_port(self.port, 30, "PostgreSQL")

    def crash(self) -> None:
        """``immediate``: every backend killed at once, no checkpoint, crash recovery on start."""
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        try:
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class AppProcess:
    """``siaga112 worker`` or uvicorn serving the app, against the given servers."""

    def __init__(self, kind: str, env: dict, log_dir: Path, port: int | None = None):
        self.kind, self.env, self.port = kind, env, port
        self.log = log_dir / f"{kind}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        seen = self.log.stat().st_size if self.log.exists() else 0  # the log is appended to
        if self.kind == "web":
            argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "5",
            ]
        else:
            argv = [sys.executable, "-m", "app.cli", "worker"]
        with self.log.open("a") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if self.kind == "web":
            _wait_port(self.port, 60, "the web process", self.proc)
        else:
            deadline = time.monotonic() + 60
            while b"Starting worker" not in self.log.read_bytes()[seen:]:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start:\n" + self.log.read_text()[-3000:])
                time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


__all__ = ["AppProcess", "OwnPostgres", "RedisServer", "free_port"]
