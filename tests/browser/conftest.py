"""Fixtures the browser suites borrow from the domain suites (queue for live notices, Kominfo user)."""

from tests.national.conftest import kominfo_user  # noqa: F401
from tests.sla.conftest import arq_pool  # noqa: F401
