"""Container HEALTHCHECK for both roles of the image: the web process or the arq worker.

Web: GET /healthz on the local port (database and Redis answer). Worker: arq's health-check key
in Redis, refreshed by a live worker every ``health_check_interval`` seconds. The role is read
from the container's process list, since one image runs either command.
"""
from __future__ import annotations

import os
import sys
import urllib.request


def role() -> str:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if b"app.cli" in argv and b"worker" in argv:
            return "worker"
    return "web"


def check_web(base_url: str | None = None) -> int:
    url = (base_url or f"http://127.0.0.1:{os.environ.get('PORT', '8112')}") + "/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as resp:
            return 0 if resp.status == 200 else 1
    except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
        print(f"unhealthy: {exc}")
        return 1


def check_worker() -> int:
    sys.path.insert(0, os.environ.get("PYTHONPATH", "/app").split(os.pathsep)[0])
    from arq.worker import check_health

    from app.worker import WorkerSettings

    return check_health(WorkerSettings)


if __name__ == "__main__":
    sys.exit(check_worker() if role() == "worker" else check_web())
