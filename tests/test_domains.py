"""The explicit wiring (app/domains.py) names every part that exists on disk, and nothing else:
a router, job list or handler module left out would be silently never mounted or run."""

from __future__ import annotations

from pathlib import Path

from app import domains

APP = Path(domains.__file__).parent
PARTS = ("models", "api", "views", "jobs", "handlers")


def _on_disk() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for pkg in sorted(p for p in APP.iterdir() if (p / "__init__.py").exists()):
        if pkg.name == "db":  # app/db/models.py is the registry that imports the domains' models
            continue
        parts = {part for part in PARTS if (pkg / f"{part}.py").exists()}
        if parts:
            found[pkg.name] = parts
    return found


def test_every_part_on_disk_is_wired_and_every_wired_part_exists():
    wired = {name: set(parts) for name, parts in domains.DOMAINS.items()}
    assert wired == _on_disk()


def test_domains_are_listed_in_alphabetical_order():
    """Routers mount and handlers subscribe in this order; keep it stable and easy to scan."""
    assert list(domains.DOMAINS) == sorted(domains.DOMAINS)


def test_the_app_mounts_each_domain_router_from_the_list():
    import importlib

    from app import main

    class Recorder:
        def __init__(self):
            self.routers = []

        def include_router(self, router):
            self.routers.append(router)

    app = Recorder()
    main._include_routers(app)
    names = domains.module_names("api") + domains.module_names("views")
    mounted = [importlib.import_module(name).router for name in names]
    assert all(any(r is m for r in app.routers) for m in mounted)
    first = app.routers[1 : 1 + len(main.HOT_ROUTERS)]  # after the landing/health pages
    assert first == [importlib.import_module(name).router for name in main.HOT_ROUTERS]
