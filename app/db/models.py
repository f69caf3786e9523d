"""Imports every model so both metadatas are complete (Alembic, provisioning, drift check)."""
from app.auth.models import PlatformUser, User  # noqa: F401
from app.calls.models import Call, EventLog, Incident  # noqa: F401
from app.dispatch.models import Category, CategoryOpd, Dispatch, Opd  # noqa: F401
from app.tenancy.models import Tenant  # noqa: F401
from app.db.base import PublicBase, TenantBase  # noqa: F401
