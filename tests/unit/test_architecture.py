"""Two rules a reviewer would otherwise have to keep in mind, as scans of app/.

One transaction boundary: the application commits in one place, ``app.db.uow.commit`` (or a
``UnitOfWork``), which also waits for the notices and timers the commit sends. A plain
``session.commit()`` elsewhere would still send them (they hang on the session's events) but
answer before they are out; this scan keeps the rule from eroding one call at a time.

Imports of the app at module top: a function-local ``from app… import`` hides a module's real
dependencies (from readers and from lint-imports' contracts) and is how an import cycle gets
dodged instead of broken. Only the allow-list below may import lazily, each entry with its reason.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"
# The migration runner commits its own sync DDL connections (advisory lock, alembic's
# per-schema transactions): no ORM session, no after-commit work.
MIGRATION_RUNNER = {"app/db/migrate.py", "app/db/alembic_env.py"}
THE_UNIT_OF_WORK = "app/db/uow.py"


def stray_commits(source: str) -> list[int]:
    """Lines with a ``.commit()`` that is not ``uow.commit(session)`` or a UnitOfWork's."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "commit":
            continue
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and receiver.id in ("uow", "work"):
            continue  # the module function uow.commit(session), or a UnitOfWork named uow/work
        lines.append(node.lineno)
    return lines


def test_only_the_unit_of_work_commits():
    offenders = {}
    for path in sorted(APP.rglob("*.py")):
        rel = str(path.relative_to(PROJECT_ROOT))
        if rel in MIGRATION_RUNNER or rel == THE_UNIT_OF_WORK:
            continue
        if found := stray_commits(path.read_text()):
            offenders[rel] = found
    assert offenders == {}, "commit through app.db.uow.commit(session) (or a UnitOfWork)"


def test_the_scan_finds_a_plain_commit():
    sample = (
        "async def f(session, s, ctx):\n"
        "    await session.commit()\n"
        "    await ctx.session.commit()\n"
        "    await uow.commit(s)\n"
    )
    assert stray_commits(sample) == [2, 3]


def test_the_unit_of_work_is_where_the_commit_is():
    assert stray_commits((PROJECT_ROOT / THE_UNIT_OF_WORK).read_text()), "the one commit moved?"
    assert Path(APP / "db" / "uow.py").exists()


# --- imports of the app at module top ---------------------------------------------------------

# Files that may import the app inside functions, and why. Keep it short: a new entry needs a
# reason that is not "it would be a cycle" (break the cycle: app/core, a small shared module, or
# a hook the lower module exposes, as app.events.subscribe does).
LAZY_IMPORTS_ALLOWED = {
    "app/cli.py": "each command imports what it runs: `siaga112 --help` loads no domain (test_the_cli_starts_light)",
}


def _is_app(name: str | None) -> bool:
    return name is not None and (name == "app" or name.startswith("app."))


def _imports_app(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or _is_app(node.module)  # relative: every module here is in app
    if isinstance(node, ast.Import):
        return any(_is_app(a.name) for a in node.names)
    if isinstance(node, ast.Call):
        # importlib.import_module("app.…") or __import__("app.…") with a literal name (the
        # registry in app.domains builds its names: the one sanctioned dynamic import).
        func, first = node.func, node.args[0] if node.args else None
        named = (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
            isinstance(func, ast.Attribute) and func.attr == "import_module"
        )
        return (
            named
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and _is_app(first.value)
        )
    return False


def local_app_imports(source: str) -> list[int]:
    """Lines inside a function body that import the app (absolute, relative or dynamic)."""
    lines: set[int] = set()
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines.update(node.lineno for node in ast.walk(fn) if _imports_app(node))
    return sorted(lines)


def test_the_app_is_imported_at_module_top():
    offenders = {}
    for path in sorted(APP.rglob("*.py")):
        rel = str(path.relative_to(PROJECT_ROOT))
        if rel in LAZY_IMPORTS_ALLOWED:
            continue
        if found := local_app_imports(path.read_text()):
            offenders[rel] = found
    assert offenders == {}, "import app modules at module top (a cycle is to be broken, not dodged)"


def test_the_scan_finds_a_function_local_import():
    sample = (
        "from app.core import clock\n"  # module top: fine
        "import importlib\n"
        "def f():\n"
        "    import json\n"  # not the app
        "    from app.calls.service import Ctx\n"
        "    from apps.other import x\n"  # not the app either
        "class C:\n"
        "    async def m(self):\n"
        "        def inner():\n"
        "            import app.sla.jobs\n"
        "        from . import sibling\n"
        "        return importlib.import_module('app.web.pages')\n"
    )
    assert local_app_imports(sample) == [5, 10, 11, 12]


def test_every_allowed_file_still_imports_lazily():
    """An entry whose file no longer needs it goes, so the list does not outlive its reasons."""
    for rel in LAZY_IMPORTS_ALLOWED:
        assert local_app_imports((PROJECT_ROOT / rel).read_text()), f"{rel}: drop it from the list"


def test_the_cli_starts_light():
    """The reason app/cli.py is allowed its lazy imports: importing it loads the settings and the
    core, nothing of the domains, the database layer or the web app."""
    code = "import sys, app.cli; print(*sorted(m for m in sys.modules if m.startswith('app.')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert "app.cli" in loaded
    assert {m for m in loaded if m not in ("app.cli", "app.config") and not m.startswith("app.core")} == set()
