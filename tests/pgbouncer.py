"""Debian's PgBouncer in TRANSACTION pooling mode in front of the test PostgreSQL, started by
the tests themselves (no system service, no config outside a temp dir), on a free port.

``TEST_VIA_PGBOUNCER=1`` routes the whole app (every engine the tests build from DATABASE_URL)
through one; tests/test_pgbouncer.py always starts its own with ONE server connection per
database, so two client connections are guaranteed to share it (the case that breaks
session-level state and server-side prepared statements)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.servers import free_port


def binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )


@contextmanager
def pgbouncer(pg_url: str, pool_size: int = 4, start_timeout_s: float = 10.0) -> Iterator[str]:
    """Run PgBouncer (transaction mode) in front of ``pg_url``'s server; yields a URL template
    ``postgresql://user@127.0.0.1:<port>/{db}`` (any database of that server)."""
    exe = binary()
    if exe is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)")
    parts = urlsplit(pg_url)
    user = parts.username or "postgres"
    server = f"host={parts.hostname or '127.0.0.1'} port={parts.port or 5432} user={user}"
    if parts.password:
        server += f" password={parts.password}"
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="siaga112-pgbouncer-"))
    (work / "users.txt").write_text(f'"{user}" ""\n')
    (work / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = {server}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {work / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 500",
                "server_reset_query =",
                f"logfile = {work / 'pgbouncer.log'}",
                # psycopg/libpq send these at start-up; PgBouncer would refuse the connection.
                "ignore_startup_parameters = extra_float_digits,options",
                "",
            ]
        )
    )
    (work / "pgbouncer.log").touch()
    work.chmod(0o755)
    for f in work.iterdir():
        f.chmod(0o666 if f.suffix == ".log" else 0o644)
    # PgBouncer refuses to run as root; -u drops to an unprivileged user.
    cmd = [exe, "-q", *(["-u", "nobody"] if os.geteuid() == 0 else []), str(work / "pgbouncer.ini")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + start_timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = (work / "pgbouncer.log").read_text()
                proc.kill()
                raise RuntimeError(f"pgbouncer did not start: {err[-2000:]}") from None
            time.sleep(0.05)
    try:
        yield urlunsplit(("postgresql", f"{user}@127.0.0.1:{port}", "/{db}", "", ""))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
