"""Real servers for tests that need a socket: a free loopback port, and an ASGI app served by
uvicorn in a daemon thread (the live app for browser tests, the test OIDC provider)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app, start_timeout_s: float = 20.0, **options) -> Iterator[str]:
    """Serve ``app`` on a free loopback port until the block ends; yields its base URL.
    ``options`` are more uvicorn.Config arguments (e.g. app.cli.web_server_options())."""
    import uvicorn

    port = free_port()
    config = {**options, "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + start_timeout_s
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError(f"{app!r} did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class RedisServer:
    """A throw-away ``redis-server`` on a free loopback port that a test may stop and start
    again (same port) to play an outage. No persistence."""

    def __init__(self, port: int | None = None):
        import shutil

        self.exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        import subprocess

        cmd = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # an outage, not a clean shutdown
            self.proc.wait(timeout=10)
        self.proc = None
