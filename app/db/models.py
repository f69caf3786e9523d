"""Imports every domain's ``models`` module (the list is ``app.domains.DOMAINS``) so both metadatas are complete.

Alembic, provisioning and the drift check all import this module first.
"""

from app.db.base import PublicBase, TenantBase  # noqa: F401
from app.domains import import_part

import_part("models")
