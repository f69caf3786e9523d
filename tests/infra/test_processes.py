"""The production entry points as real processes: `siaga112 web` and `siaga112 worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.servers import free_port


def _env(**extra) -> dict[str, str]:
    env = os.environ.copy()  # conftest points DATABASE_URL/REDIS_URL at this run's database
    env.update(extra)
    return env


def _wait_exit(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"process did not stop within {timeout}s of SIGTERM")


def test_web_refuses_to_start_without_external_database():
    env = _env()
    env.pop("DATABASE_URL")
    env["DATABASE_URL"] = ""
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "web", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "DATABASE_URL and REDIS_URL must be set" in proc.stdout


def test_web_serves_readyz_and_stops_gracefully_on_sigterm(settings):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(LOG_LEVEL="info", GRACEFUL_SHUTDOWN_S="5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 40
        resp = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert resp is not None, proc.stdout.read() if proc.poll() is not None else "never answered"
        assert resp.status_code == 200, resp.text
        assert resp.json()["migrations"] == "ok"
        assert "server" not in resp.headers  # no uvicorn banner
        proc.send_signal(signal.SIGTERM)
        # uvicorn finishes its graceful shutdown, then re-raises the captured SIGTERM (-15).
        assert _wait_exit(proc, 15) in (0, -signal.SIGTERM)
        out = proc.stdout.read()
        assert "Shutting down" in out and "Application shutdown complete" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_worker_stops_promptly_on_sigterm_when_idle():
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=_env(PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = []
        for line in proc.stdout:  # wait until it has installed its signal handlers and polls
            seen.append(line)
            if "redis_version=" in line:
                break
        assert proc.poll() is None, "".join(seen)
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _wait_exit(proc, 30)
        # Idle: it must not sit out the whole job_completion_wait before exiting.
        assert time.monotonic() - started < 10
        assert "shutdown on SIGTERM" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
