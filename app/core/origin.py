"""Where an action came from, as a plain value: services record it (audit trail) without
knowing about HTTP. The web layer builds it from the request (app.security.proxies.origin_of)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    ip: str | None = None  # the client address as far as it can be trusted (TRUSTED_PROXIES)


NOWHERE = Origin()  # jobs, the CLI, the worker: no client
