"""Every HTTP route of the app with its full path, across included routers.

FastAPI ≥0.16x keeps included routers nested; security and isolation suites walk this list.
"""

from __future__ import annotations

from collections.abc import Iterator


def iter_routes(routes, prefix: str = "") -> Iterator[tuple[str, set[str], object]]:
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from iter_routes(nested.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            yield prefix + route.path, set(route.methods), route
