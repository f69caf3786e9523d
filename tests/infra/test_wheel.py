"""A built wheel runs anywhere: installed into a folder of its own and started from a
folder outside the checkout, it migrates and serves pages (migrations, templates, static files,
region data and demo manifests all come from the wheel, not from this checkout)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import PG_ADMIN
from tests.servers import free_port

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel installed into a folder of its own (dependencies from this environment, whether
    that is the system's Python or an activated venv); its entry points are in ``bin/``."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(CHECKOUT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (root / "dist").glob("siaga112-*.whl")
    target = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture
def fresh_database():
    name = f"siaga112_wheel_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(site: Path, database_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "UPLOAD_DIR")}
    env.update(
        DATABASE_URL=database_url,
        ENVIRONMENT="development",
        DATA_DIR=str(tmp / "data"),
        PYTHONPATH=str(site),  # the wheel's package comes before the checkout's editable install
        **extra,
    )
    return env


def test_the_wheel_is_imported_from_its_folder_not_the_checkout(installed, tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", "import app.config as c; print(c.PROJECT_ROOT)"],
        cwd=tmp_path,
        env=_env(installed, "", tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out.startswith(str(installed)) and out.endswith("app/_bundled"), out


def test_installed_wheel_migrates_and_serves_outside_the_checkout(installed, fresh_database, tmp_path):
    env = _env(installed, fresh_database, tmp_path)
    upgrade = subprocess.run(
        [str(installed / "bin" / "siaga112"), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

    port = free_port()
    with subprocess.Popen(
        [str(installed / "bin" / "siaga112"), "serve", "--port", str(port), "--no-worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            page = None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    page = httpx.get(f"{base}/t/kota_solok/login", timeout=5)
                    break
                except httpx.HTTPError:
                    time.sleep(0.3)
            assert page is not None, proc.stdout.read() if proc.poll() is not None else "never answered"
            assert page.status_code == 200 and "Kota Solok" in page.text  # template + demo manifest
            css = httpx.get(f"{base}/static/vendor/htmx/htmx.min.js", timeout=5)
            assert css.status_code == 200  # static files shipped in the wheel
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
