"""Fixtures borrowed from the domain suites: logged-in clients per role, the Kominfo client."""

from tests.national.conftest import kominfo_client, kominfo_user  # noqa: F401
from tests.sla.conftest import logged_in  # noqa: F401
