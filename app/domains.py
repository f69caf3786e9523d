"""The one list of domains and the parts each has: what ``main.py`` mounts, what ``worker.py``
runs and what the model registry imports. Nothing is found by file name: a new domain, or a
new part of one, is wired here (tests/test_domains.py fails for a part on disk but not here).

Parts: ``models`` (tables), ``api`` and ``views`` (each a ``router``: JSON under /api/v1, HTML),
``jobs`` (``FUNCTIONS`` and ``CRON_JOBS``), ``handlers`` (@subscribe functions).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

Part = Literal["models", "api", "views", "jobs", "handlers"]

# In alphabetical order: routers are mounted in this order (after the hot intake routers, see
# app.main.HOT_ROUTERS) and event handlers subscribe in it.
DOMAINS: dict[str, tuple[Part, ...]] = {
    "admin": ("models", "views"),
    "audit": ("models",),
    "auth": ("models", "views"),
    "calls": ("models", "api", "views"),
    "channels": ("models", "api", "views", "jobs", "handlers"),
    "conversations": ("models", "api", "views", "handlers"),
    "dispatch": ("models", "api", "views"),
    "handover": ("models", "api", "views", "jobs"),
    "location": ("models", "views"),
    "national": ("models", "api", "views", "jobs", "handlers"),
    "notify": ("models", "views", "jobs"),
    "onboarding": ("models", "views"),
    "recordings": ("models", "api", "views", "jobs"),
    "reputation": ("models", "views", "jobs", "handlers"),
    "security": ("models", "api", "views"),
    "sla": ("models", "api", "views", "jobs", "handlers"),
    "telephony": ("models", "api", "views"),
    "tenancy": ("models",),
}


def module_names(part: Part) -> list[str]:
    return [f"app.{domain}.{part}" for domain, parts in DOMAINS.items() if part in parts]


def import_part(part: Part) -> list[ModuleType]:
    """Import (once) every domain's ``part`` module, in ``DOMAINS`` order."""
    return [importlib.import_module(name) for name in module_names(part)]
