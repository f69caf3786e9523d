"""The permissions an API token can carry. One list, shown on the token forms and checked by the API."""

from __future__ import annotations

TENANT_SCOPES: dict[str, str] = {
    "calls:read": "Membaca panggilan dan insiden",
    "calls:write": "Mencatat panggilan / insiden",
    "dispatch:read": "Membaca status penugasan OPD",
    "dispatch:write": "Memperbarui status penugasan OPD",
    "telephony:webhook": "Webhook integrator telepon (CTI/PBX)",
    "sla:read": "Membaca kebijakan dan kepatuhan SLA",
    "handover:receive": "Menerima serah terima insiden dari sistem lain (110/119)",
}
PLATFORM_SCOPES: dict[str, str] = {
    "national:read": "Statistik nasional (alat Kominfo/Komdigi)",
}
TOKEN_KINDS = ("service", "personal")
