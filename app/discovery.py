"""Finds each domain's routers, jobs and event handlers by module name, in a stable order.

A domain package ``app/<name>/`` may have ``api.py`` and ``views.py`` (each with ``router``),
``jobs.py`` (``FUNCTIONS`` and ``CRON_JOBS`` lists) and ``handlers.py`` (@subscribe functions).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from types import ModuleType

import app as app_pkg


def domain_packages() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(app_pkg.__path__) if m.ispkg)


def import_domain_modules(kind: str) -> list[ModuleType]:
    found = []
    for pkg in domain_packages():
        name = f"app.{pkg}.{kind}"
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append(importlib.import_module(name))
    return found
