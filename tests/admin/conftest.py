"""The regency admin's pages share the onboarding suite's clients (an admin comes from signup)."""

from tests.onboarding.conftest import admin_client, anon_client  # noqa: F401  (fixtures)
