"""Per-domain isolation seeds: each ``tests/seeds/seed_<domain>.py`` defines

    async def seed(session, ids: dict, marker: str) -> None

inserting at least one row (marked with ``marker``) into each tenant table its domain owns,
using ``ids`` (opd, category, user, incident, call, dispatch, … created before it) and adding
its own ids to it. Modules run in name order after the core seed in tests/isolation_seed.py.
"""
