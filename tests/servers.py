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
