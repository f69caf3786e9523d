"""The ONE place where stored values become words people read (Bahasa Indonesia).

Statuses, roles, outcomes, channels and units are stored as English codes; every page, toast and
message shows them through this module (templates: ``{{ value|label("role") }}``, durations
``{{ seconds|dur }}``). Plain data and functions only, so services and views both import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

ROLE = {
    "admin": "Admin",
    "supervisor": "Supervisor",
    "operator": "Operator",
    "opd_staff": "Petugas OPD",
    "kominfo": "Kominfo/Komdigi",
    "platform_admin": "Admin platform",
}
TENANT_STATUS = {
    "pending": "Menunggu verifikasi",
    "verified": "Terverifikasi",
    "active": "Aktif",
    "suspended": "Ditangguhkan",
    "not_joined": "Belum bergabung",
}
APPLICATION_STATUS = {
    "draft": "Draf",
    "submitted": "Diajukan",
    "sent_back": "Dikembalikan",
    "verified": "Terverifikasi",
}
USER_STATUS = {"active": "Aktif", "invited": "Diundang", "inactive": "Nonaktif"}
OUTCOME = {
    "emergency": "Darurat",
    "non_emergency_info": "Informasi",
    "prank": "Iseng / prank",
    "silent": "Diam / silent",
    "misdial": "Salah sambung",
    "duplicate": "Duplikat",
}
CHANNEL = {
    "voice": "Telepon",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "app": "Aplikasi",
    "walk_in": "Datang langsung",
}
# Where a call's position came from (app.location).
LOCATION_SOURCE = {"aml": "AML", "link": "tautan lokasi", "whatsapp": "lokasi WhatsApp"}
# A supervisor's decision on a caller review (step 3 of the graduated scale; never a block).
REVIEW_DECISION = {
    "no_action": "Tidak ada tindakan",
    "watch_list": "Masukkan ke daftar pantauan",
    "warning_sms": "Kirim SMS peringatan",
}
TELEPHONY_STATE = {
    "ringing": "Berdering",
    "answered": "Dijawab",
    "transferred": "Dialihkan",
    "ended": "Selesai",
    "missed": "Tak terjawab",
}
INCIDENT_STATUS = {"open": "Terbuka", "closed": "Ditutup"}
DISPATCH_STATUS = {
    "sent": "Terkirim",
    "acknowledged": "Diterima",
    "en_route": "Menuju lokasi",
    "on_scene": "Di lokasi",
    "resolved": "Selesai",
    "rejected": "Ditolak",
}
DISPATCH_ACTION = {
    "acknowledged": "Terima",
    "en_route": "Berangkat",
    "on_scene": "Tiba di lokasi",
    "resolved": "Selesai",
}
ENTITY = {
    "call": "Panggilan",
    "incident": "Insiden",
    "dispatch": "Penugasan",
    "user": "Pengguna",
    "opd": "OPD",
    "category": "Kategori",
    "sla_policy": "Kebijakan SLA",
    "tenant": "Kabupaten/kota",
    "api_token": "Token API",
    "application": "Pendaftaran",
}
# Audit actions: the first part names the subject, the second what happened.
AUDIT_VERB = {
    "create": "dibuat",
    "created": "dibuat",
    "update": "diubah",
    "delete": "dihapus",
    "policy_saved": "kebijakan disimpan",
    "policy_deleted": "kebijakan dihapus",
    "success": "berhasil",
    "failure": "gagal",
    "everywhere": "dari semua perangkat",
    "activate": "diaktifkan",
    "deactivate": "dinonaktifkan",
    "invite": "diundang",
    "role": "peran diubah",
    "reset_password": "tautan atur ulang sandi dibuat",
    "set_password": "sandi ditetapkan",
    "claimed": "diangkat",
    "corrected": "dikoreksi",
    "done": "selesai",
    "call_attached": "panggilan digabungkan",
    "opened": "dibuka",
    "apply": "diterapkan",
    "secret_rotated": "rahasia webhook diganti",
    "map_saved": "peta disimpan",
    "resubmit": "dikirim ulang",
    "signup": "mendaftar",
    "added": "ditambahkan",
    "removed": "dihapus",
    "configure": "diatur",
    "issue": "dibuat",
    "revoke": "dicabut",
}
AUDIT_SUBJECT = {
    **ENTITY,
    "login": "Masuk",
    "logout": "Keluar",
    "sla": "SLA",
    "token": "Token API",
    "sso": "SSO",
    "area": "Wilayah",
    "callback": "Telepon balik",
    "manifest": "Manifes",
    "telephony": "Telepon",
    "watch": "Daftar pantauan",
}

VOCABULARIES: dict[str, Mapping[str, str]] = {
    "role": ROLE,
    "tenant_status": TENANT_STATUS,
    "application_status": APPLICATION_STATUS,
    "user_status": USER_STATUS,
    "outcome": OUTCOME,
    "channel": CHANNEL,
    "review_decision": REVIEW_DECISION,
    "location_source": LOCATION_SOURCE,
    "telephony_state": TELEPHONY_STATE,
    "incident_status": INCIDENT_STATUS,
    "dispatch_status": DISPATCH_STATUS,
    "dispatch_action": DISPATCH_ACTION,
    "entity": ENTITY,
}


def label(value: object, vocabulary: str, default: str | None = None) -> str:
    """The Indonesian word for a stored code; an unknown code is shown as itself (never hidden)."""
    if value is None or value == "":
        return default if default is not None else "–"
    return VOCABULARIES[vocabulary].get(str(value), default if default is not None else str(value))


def duration(seconds: int | float | None) -> str:
    """Seconds as people read them: '45 dtk', '4 mnt 5 dtk', '1 jam 30 mnt' (never '4d')."""
    if seconds is None:
        return "–"
    total = max(0, round(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{h} jam" if h else "", f"{m} mnt" if m else "", f"{s} dtk" if s else ""]
    return " ".join(p for p in parts if p) or "0 dtk"


MONTHS_SHORT = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


MONTHS_LONG = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
    "November", "Desember",
)  # fmt: skip
WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def strftime(value: date, fmt: str) -> str:
    """strftime with Indonesian month and day names: %b/%B/%a/%A follow the C locale ('Dec', 'Friday')."""
    names = {
        "%b": MONTHS_SHORT[value.month - 1],
        "%B": MONTHS_LONG[value.month - 1],
        "%a": WEEKDAYS[value.weekday()][:3],
        "%A": WEEKDAYS[value.weekday()],
    }
    parts = fmt.split("%%")
    for code, name in names.items():
        parts = [part.replace(code, name.replace("%", "%%")) for part in parts]
    return value.strftime("%%".join(parts))


def day(value: date | None) -> str:
    """'3 Des 2026': a date in Indonesian (strftime's %b would say 'Dec' whatever the page's language)."""
    if value is None:
        return "–"
    return f"{value.day} {MONTHS_SHORT[value.month - 1]} {value.year}"


def audit_action(action: str | None) -> str:
    """'user.deactivated' → 'Pengguna: dinonaktifkan'; unknown parts stay readable as they are."""
    if not action:
        return "–"
    subject, _, verb = action.partition(".")
    words = AUDIT_SUBJECT.get(subject, subject.replace("_", " ").capitalize())
    if not verb:
        return words
    last = verb.rsplit(".", 1)[-1]  # "kecamatan.create": the last part says what happened
    detail = verb.rsplit(".", 1)[0].replace("_", " ") + " " if "." in verb else ""
    return f"{words}: {detail}{AUDIT_VERB.get(last, last.replace('_', ' '))}"


def audit_change(before: Mapping | None, after: Mapping | None) -> list[tuple[str, str, str]]:
    """(field, before, after) for each value that changed, as text: what the audit page lists."""
    before, after = dict(before or {}), dict(after or {})
    rows = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        rows.append(
            (key.replace("_", " "), _text(old) if key in before else "", _text(new) if key in after else "")
        )
    return rows


def _text(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
