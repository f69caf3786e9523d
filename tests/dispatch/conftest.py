"""Dispatch tests share the call-centre workflow's clients and counters."""

from tests.calls.conftest import client_as, counts, ids_of, seen_events  # noqa: F401  (fixtures)
