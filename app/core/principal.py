"""Who is making a request, independent of how they proved it (cookie session or API token)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    kind: str  # "tenant" | "platform" | "token"
    user_id: int | None
    role: str
    name: str
    email: str = ""
    tenant_slug: str | None = None
    opd_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    # For kind "token": "service" (role "service") or "personal" (role and OPD are the owner's
    # CURRENT ones, so the token can never do more than its owner's own session could).
    token_kind: str | None = None

    @property
    def label(self) -> str:
        """How the audit and event logs name the actor."""
        return f"{self.name} ({self.role})"

    @property
    def is_platform(self) -> bool:
        return self.kind == "platform"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles
