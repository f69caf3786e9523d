"""Keep a child process running: ``siaga112 serve`` restarts its arq worker if it dies.

A worker that exits (a bug, an out-of-memory kill, an outage it could not ride out) would
otherwise stop SLA breaches, reconciliation and the national fold until someone notices.
Restarts back off (1 s doubling to 30 s; reset after a minute of uptime) and are logged.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time

log = logging.getLogger(__name__)


class Supervised:
    def __init__(self, argv: list[str], env: dict | None = None, name: str = "worker"):
        self.argv, self.env, self.name = argv, env, name
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)

    def start(self) -> Supervised:
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self.proc = subprocess.Popen(self.argv, env=self.env)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            proc = self.proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:
                backoff = 1.0
            log.error("%s exited with status %s; restarting in %.0f s", self.name, code, backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(30.0, backoff * 2)
            self.restarts += 1
            self._spawn()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGINT (arq's clean stop: running jobs finish), then SIGKILL after ``timeout_s``."""
        self._stopping.set()
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._thread.join(timeout=5)
