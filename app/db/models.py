"""Imports every ``app.<domain>.models`` module so both metadatas are complete.

Alembic, provisioning and the drift check all import this module first.
"""

from app.db.base import PublicBase, TenantBase  # noqa: F401
from app.discovery import import_domain_modules

import_domain_modules("models")
