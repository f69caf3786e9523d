"""One transaction boundary: the application commits in one place, ``app.db.uow.commit`` (or a
``UnitOfWork``), which also waits for the notices and timers the commit sends. A plain
``session.commit()`` elsewhere would still send them (they hang on the session's events) but
answer before they are out; this scan keeps the rule from eroding one call at a time."""

from __future__ import annotations

import ast
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
